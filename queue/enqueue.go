package queue

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Errors callers branch on (with errors.Is).
var (
	// ErrInvalid means bad input: a bad option, registration or
	// configuration. The message names the field.
	ErrInvalid = errors.New("invalid")
	// ErrUnknownKind means the job's kind was not registered.
	ErrUnknownKind = errors.New("unknown job kind")
	// ErrNotFound means no job has the given ID.
	ErrNotFound = errors.New("job not found")
)

// EnqueueOpts set one job's options; zero fields take the kind's defaults.
type EnqueueOpts struct {
	// Queue overrides the kind's queue.
	Queue string
	// Priority from 1 (fetched first) to 4.
	Priority int
	// At is the earliest time the job may run. Zero: now.
	At time.Time
	// In is a delay from now before the job may run; do not combine with At.
	In time.Duration
	// MaxAttempts overrides the kind's.
	MaxAttempts int
	// Unique overrides the kind's uniqueness.
	Unique *Unique
	// Tags replace the kind's tags.
	Tags []string
}

// Unique skips enqueueing a job when one like it already exists: same
// kind, plus the dimensions chosen here. A skipped job is reported as a
// Duplicate with the existing job's ID, not as an error. Uniqueness is
// enforced by a unique index, so it holds across processes and
// transactions.
//
// A job counts as existing while it is scheduled, available, running,
// retryable or completed (a completed one only when the Period says so, or
// unless IgnoreCompleted); once cancelled or discarded it no longer blocks
// a new one.
type Unique struct {
	// ByArgs: only jobs with equal (JSON-encoded) args are duplicates.
	ByArgs bool
	// ByQueue: only jobs in the same queue are duplicates.
	ByQueue bool
	// Period: only jobs created in the same window of this length
	// (aligned to multiples of Period since the Unix epoch) are duplicates.
	// Zero: windows never end.
	Period time.Duration
	// IgnoreCompleted lets a new job in once the previous one completed.
	IgnoreCompleted bool
}

func (u *Unique) validate() error {
	if !u.ByArgs && !u.ByQueue && u.Period == 0 {
		return errors.New("set at least one of ByArgs, ByQueue and Period (a Unique with none would allow one job of the kind, ever)")
	}
	if u.Period < 0 {
		return fieldErr("Period", "must not be negative, got %v", u.Period)
	}
	if u.Period > 0 && u.Period < time.Second {
		return fieldErr("Period", "must be at least 1s, got %v", u.Period)
	}
	return nil
}

func (u *Unique) river() river.UniqueOpts {
	if u == nil {
		return river.UniqueOpts{}
	}
	o := river.UniqueOpts{ByArgs: u.ByArgs, ByQueue: u.ByQueue, ByPeriod: u.Period}
	if u.IgnoreCompleted {
		o.ByState = []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}
	}
	return o
}

// Item is one job of a batch.
type Item struct {
	Args Args
	Opts *EnqueueOpts
}

// Enqueued is an enqueued job.
type Enqueued struct {
	JobInfo
	// Duplicate means uniqueness skipped the insert: JobInfo is the job
	// that already existed.
	Duplicate bool
}

// Enqueue stores a job in its own transaction.
func (c *Client) Enqueue(ctx context.Context, args Args, opts *EnqueueOpts) (Enqueued, error) {
	p, err := c.insertParams(args, opts)
	if err != nil {
		return Enqueued{}, err
	}
	res, err := c.rc.InsertMany(ctx, []river.InsertManyParams{p})
	if err != nil {
		return Enqueued{}, fmt.Errorf("enqueue %s job: %w", args.Kind(), err)
	}
	return c.enqueued(res)[0], nil
}

// EnqueueTx stores a job in the caller's transaction: the job exists if and
// only if tx commits, and no worker sees it before.
func (c *Client) EnqueueTx(ctx context.Context, tx pgx.Tx, args Args, opts *EnqueueOpts) (Enqueued, error) {
	if tx == nil {
		return Enqueued{}, fmt.Errorf("enqueue job: %w: nil transaction", ErrInvalid)
	}
	p, err := c.insertParams(args, opts)
	if err != nil {
		return Enqueued{}, err
	}
	res, err := c.rc.InsertManyTx(ctx, tx, []river.InsertManyParams{p})
	if err != nil {
		return Enqueued{}, fmt.Errorf("enqueue %s job in transaction: %w", args.Kind(), err)
	}
	return c.enqueued(res)[0], nil
}

// EnqueueMany stores a batch in one transaction: all or none. Every item
// is validated before anything is written.
func (c *Client) EnqueueMany(ctx context.Context, items []Item) ([]Enqueued, error) {
	ps, err := c.insertManyParams(items)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	res, err := c.rc.InsertMany(ctx, ps)
	if err != nil {
		return nil, fmt.Errorf("enqueue %d jobs: %w", len(ps), err)
	}
	return c.enqueued(res), nil
}

// EnqueueManyTx stores a batch in the caller's transaction.
func (c *Client) EnqueueManyTx(ctx context.Context, tx pgx.Tx, items []Item) ([]Enqueued, error) {
	if tx == nil {
		return nil, fmt.Errorf("enqueue jobs: %w: nil transaction", ErrInvalid)
	}
	ps, err := c.insertManyParams(items)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	res, err := c.rc.InsertManyTx(ctx, tx, ps)
	if err != nil {
		return nil, fmt.Errorf("enqueue %d jobs in transaction: %w", len(ps), err)
	}
	return c.enqueued(res), nil
}

func (c *Client) insertManyParams(items []Item) ([]river.InsertManyParams, error) {
	ps := make([]river.InsertManyParams, len(items))
	for i, it := range items {
		p, err := c.insertParams(it.Args, it.Opts)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		ps[i] = p
	}
	return ps, nil
}

func (c *Client) enqueued(res []*rivertype.JobInsertResult) []Enqueued {
	out := make([]Enqueued, len(res))
	for i, r := range res {
		out[i] = Enqueued{JobInfo: jobInfo(r.Job), Duplicate: r.UniqueSkippedAsDuplicate}
		if !r.UniqueSkippedAsDuplicate {
			c.rt.metrics.enqueued(r.Job.Kind, r.Job.Queue)
		}
	}
	return out
}

// insertParams validates args and opts and merges them with the kind's
// defaults into River's insert options.
func (c *Client) insertParams(args Args, opts *EnqueueOpts) (river.InsertManyParams, error) {
	if isNil(args) {
		return river.InsertManyParams{}, fmt.Errorf("enqueue job: %w: nil args", ErrInvalid)
	}
	kind := args.Kind()
	e, ok := c.reg.kinds[kind]
	if !ok {
		return river.InsertManyParams{}, fmt.Errorf("enqueue %q job: %w: register it with queue.Register (registered: %v)", kind, ErrUnknownKind, c.reg.Kinds())
	}
	io, err := c.insertOpts(e.opts, opts)
	if err != nil {
		return river.InsertManyParams{}, fmt.Errorf("enqueue %s job: %w: %w", kind, ErrInvalid, err)
	}
	return river.InsertManyParams{Args: args, InsertOpts: io}, nil
}

func (c *Client) insertOpts(k KindOptions, o *EnqueueOpts) (*river.InsertOpts, error) {
	if o == nil {
		o = &EnqueueOpts{}
	}
	io := &river.InsertOpts{
		Queue:       first(o.Queue, k.Queue, QueueDefault),
		Priority:    first(o.Priority, k.Priority, 1),
		MaxAttempts: first(o.MaxAttempts, k.MaxAttempts, c.rt.maxAttempts),
		Tags:        k.Tags,
	}
	if o.Tags != nil {
		io.Tags = o.Tags
	}
	// The kind's queue was checked at registration; only an override needs
	// the (comparatively slow) pattern match.
	if o.Queue != "" {
		if err := validateQueueName(o.Queue); err != nil {
			return nil, fieldErr("Queue:", "%w", err)
		}
	}
	if o.Priority < 0 || io.Priority < 1 || io.Priority > 4 {
		return nil, fieldErr("Priority", "must be between 1 and 4, got %d", o.Priority)
	}
	if o.MaxAttempts < 0 {
		return nil, fieldErr("MaxAttempts", "must not be negative, got %d", o.MaxAttempts)
	}
	if err := validateTags(o.Tags); err != nil {
		return nil, fieldErr("Tags:", "%w", err)
	}
	switch {
	case o.In < 0:
		return nil, fieldErr("In", "must not be negative, got %v", o.In)
	case o.In > 0 && !o.At.IsZero():
		return nil, errors.New("set At or In, not both")
	case o.In > 0:
		io.ScheduledAt = c.rt.now().Add(o.In)
	case !o.At.IsZero():
		io.ScheduledAt = o.At
	}
	u := k.Unique
	if o.Unique != nil {
		if err := o.Unique.validate(); err != nil {
			return nil, fieldErr("Unique:", "%w", err)
		}
		u = o.Unique
	}
	io.UniqueOpts = u.river()
	return io, nil
}

// fieldErr starts an error with the name of the field at fault, spelled
// as in the code.
func fieldErr(field, format string, a ...any) error {
	return fmt.Errorf("%s "+format, append([]any{field}, a...)...)
}

// first returns the first non-zero value.
func first[T comparable](vs ...T) T {
	var zero T
	for _, v := range vs {
		if v != zero {
			return v
		}
	}
	return zero
}

// isNil reports a nil interface or an interface holding a nil pointer,
// map or slice (whose Kind would work but whose args would encode as null).
func isNil(a Args) bool {
	if a == nil {
		return true
	}
	v := reflect.ValueOf(a)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return v.IsNil()
	default:
		return false
	}
}
