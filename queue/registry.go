package queue

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// QueueDefault is the queue of kinds that do not name one.
const QueueDefault = river.QueueDefault

// KindOptions are the defaults of one job kind; EnqueueOpts override them
// per job.
type KindOptions struct {
	// Queue the kind's jobs go to. Default QueueDefault.
	Queue string
	// Priority from 1 (fetched first) to 4. Default 1.
	Priority int
	// MaxAttempts before a failing job is discarded. Default Config.MaxAttempts.
	MaxAttempts int
	// Timeout of one attempt: its context is cancelled after it. Default
	// Config.JobTimeout; NoTimeout for none.
	Timeout time.Duration
	// Retry decides the waits between attempts. Default Config.Retry.
	Retry RetryPolicy
	// Unique makes enqueueing skip jobs that duplicate an existing one.
	// Default: no uniqueness.
	Unique *Unique
	// Tags stored with each job, for listing and filtering.
	Tags []string
}

// NoTimeout as a Timeout lets attempts run until the client stops.
const NoTimeout time.Duration = -1

// Registry holds the job kinds a program knows: their handlers and
// defaults. Build it once at startup with Register and pass it to New;
// the process that enqueues and the one that works must register the same
// kinds (the simplest way is one function that both call).
type Registry struct {
	kinds map[string]*kindEntry
}

type kindEntry struct {
	kind string
	opts KindOptions
	// add registers the kind's worker with River, bound to one client's
	// runtime (clock, metrics, defaults).
	add func(w *river.Workers, rt *runtime) error
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{kinds: map[string]*kindEntry{}}
}

// Kinds returns the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	out := make([]string, 0, len(r.kinds))
	for k := range r.kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Options returns the defaults registered for kind.
func (r *Registry) Options(kind string) (KindOptions, bool) {
	e, ok := r.kinds[kind]
	if !ok {
		return KindOptions{}, false
	}
	return e.opts, true
}

// kindRE is River's rule for kinds and periodic job names.
var kindRE = regexp.MustCompile(`\A[\w][\w\-\[\]<>\/.·:+]+\z`)

// queueRE is River's rule for queue names.
var queueRE = regexp.MustCompile(`^(?:[a-z0-9])+(?:[_|\-]?[a-z0-9]+)*$`)

// tagRE is River's rule for tags.
var tagRE = regexp.MustCompile(`\A[\w][\w\-]+[\w]\z`)

// Register adds the kind of T, run by h, to r. T's Kind is called on T's
// zero value, so declare Kind on a value receiver of a struct type.
func Register[T Args](r *Registry, h Handler[T], opts KindOptions) error {
	kind, err := kindOf[T]()
	if err != nil {
		return fmt.Errorf("register job kind: %w", err)
	}
	if err := registerCheck(r, kind, h == nil, opts); err != nil {
		return err
	}
	r.kinds[kind] = &kindEntry{
		kind: kind,
		opts: opts,
		add: func(w *river.Workers, rt *runtime) error {
			return river.AddWorkerSafely[T](w, newWorker(kind, h, opts, rt))
		},
	}
	return nil
}

func registerCheck(r *Registry, kind string, nilHandler bool, opts KindOptions) error {
	if r == nil || r.kinds == nil {
		return fmt.Errorf("register job kind %q: nil Registry (use NewRegistry)", kind)
	}
	if nilHandler {
		return fmt.Errorf("register job kind %q: %w: nil Handler", kind, ErrInvalid)
	}
	if _, dup := r.kinds[kind]; dup {
		return fmt.Errorf("register job kind %q: %w: already registered", kind, ErrInvalid)
	}
	if err := opts.validate(); err != nil {
		return fmt.Errorf("register job kind %q: %w: %w", kind, ErrInvalid, err)
	}
	return nil
}

func (o KindOptions) validate() error {
	if o.Queue != "" {
		if err := validateQueueName(o.Queue); err != nil {
			return fieldErr("Queue:", "%w", err)
		}
	}
	if o.Priority != 0 && (o.Priority < 1 || o.Priority > 4) {
		return fieldErr("Priority", "must be between 1 and 4, got %d", o.Priority)
	}
	if o.MaxAttempts < 0 {
		return fieldErr("MaxAttempts", "must not be negative, got %d", o.MaxAttempts)
	}
	if o.Timeout < 0 && o.Timeout != NoTimeout {
		return fieldErr("Timeout", "must be positive, zero (the client's) or NoTimeout, got %v", o.Timeout)
	}
	if err := validateRetry(o.Retry); err != nil {
		return fieldErr("Retry:", "%w", err)
	}
	if o.Unique != nil {
		if err := o.Unique.validate(); err != nil {
			return fieldErr("Unique:", "%w", err)
		}
	}
	return validateTags(o.Tags)
}

func validateQueueName(q string) error {
	if len(q) > 128 || !queueRE.MatchString(q) {
		return fmt.Errorf("queue name %q must be lower-case letters and digits separated by single '-' or '_', at most 128 characters", q)
	}
	return nil
}

func validateTags(tags []string) error {
	for _, t := range tags {
		if len(t) > 255 || !tagRE.MatchString(t) {
			return fmt.Errorf("tag %q must be 3 to 255 word characters or '-', starting and ending with a word character", t)
		}
	}
	return nil
}

// kindOf returns T's kind, or an error when T's Kind does not work on the
// zero value (a nil pointer) or returns an invalid kind.
func kindOf[T Args]() (kind string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %T.Kind() panicked on the zero value (%v): declare Kind on a value receiver of a struct type", ErrInvalid, *new(T), p)
		}
	}()
	var zero T
	kind = zero.Kind()
	if !kindRE.MatchString(kind) {
		return "", fmt.Errorf("%w: %T.Kind() = %q: a kind must be 2 or more word characters or -[]<>/.·:+, starting with a word character", ErrInvalid, zero, kind)
	}
	return kind, nil
}

// worker adapts a Handler to River's Worker: it converts the job, applies
// the kind's timeout and retry policy, and records metrics.
type worker[T Args] struct {
	river.WorkerDefaults[T]
	kind    string
	h       Handler[T]
	timeout time.Duration
	retry   RetryPolicy
	rt      *runtime
}

func newWorker[T Args](kind string, h Handler[T], opts KindOptions, rt *runtime) *worker[T] {
	w := &worker[T]{kind: kind, h: h, timeout: opts.Timeout, retry: opts.Retry, rt: rt}
	if w.timeout == 0 {
		w.timeout = rt.jobTimeout
	}
	if w.retry == nil {
		w.retry = rt.retry
	}
	return w
}

func (w *worker[T]) Work(ctx context.Context, rj *river.Job[T]) (err error) {
	start := time.Now()
	w.rt.metrics.started(rj.Kind, rj.Queue)
	defer func() {
		if p := recover(); p != nil {
			w.rt.metrics.finished(rj.JobRow, classify(rj.JobRow, fmt.Errorf("panic: %v", p), false), time.Since(start))
			panic(p) // River records the panic and its trace as the attempt's error
		}
		stopping := w.rt.hardStop.Load() && ctx.Err() != nil
		w.rt.metrics.finished(rj.JobRow, classify(rj.JobRow, err, stopping), time.Since(start))
	}()
	return w.h(ctx, newJob(rj))
}

// NextRetry is the kind's retry policy on the client's clock. River counts
// failures as the errors recorded so far plus this one, so snoozes do not
// lengthen the backoff.
func (w *worker[T]) NextRetry(rj *river.Job[T]) time.Time {
	return w.rt.now().Add(max(w.retry.Delay(len(rj.Errors)+1), 0))
}

func (w *worker[T]) Timeout(*river.Job[T]) time.Duration { return w.timeout }

// outcome classifies what River does with an attempt's result.
type outcome int

const (
	outcomeCompleted outcome = iota
	outcomeSnoozed
	outcomeCancelled
	outcomeRetried
	outcomeDiscarded
	outcomeInterrupted // the client stopped hard; River makes it available again without using an attempt
)

func classify(row *rivertype.JobRow, err error, stopping bool) outcome {
	var snooze *rivertype.JobSnoozeError
	var cancel *rivertype.JobCancelError
	switch {
	case err == nil:
		return outcomeCompleted
	case errors.As(err, &snooze):
		return outcomeSnoozed
	case errors.As(err, &cancel):
		return outcomeCancelled
	case stopping && errors.Is(err, context.Canceled):
		return outcomeInterrupted
	case row.Attempt >= row.MaxAttempts:
		return outcomeDiscarded
	default:
		return outcomeRetried
	}
}
