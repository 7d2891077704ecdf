package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/queue/queuetest"
)

// WelcomeEmail is a job kind: JSON args and a stable kind name.
type WelcomeEmail struct {
	UserID string `json:"user_id"`
}

func (WelcomeEmail) Kind() string { return "welcome_email" }

func sendWelcome(_ context.Context, j *queue.Job[WelcomeEmail]) error {
	fmt.Printf("welcome %s (attempt %d)\n", j.Args.UserID, j.Attempt)
	return nil
}

// A job enqueued in the transaction of the write that needs it: it exists
// if and only if the transaction commits. Here a worker is simulated with
// queuetest.WorkOne; in production it is a Client with Queues, started in
// the worker process.
func Example() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()

	reg := queue.NewRegistry()
	if err := queue.Register(reg, sendWelcome, queue.KindOptions{Queue: "email", MaxAttempts: 5}); err != nil {
		panic(err)
	}
	client, err := queue.New(queue.Config{Pool: db.Pool, Registry: reg})
	if err != nil {
		panic(err)
	}

	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		// ... INSERT INTO users ... in tx, then:
		_, err := client.EnqueueTx(ctx, tx, WelcomeEmail{UserID: "u-42"}, nil)
		return err
	})
	if err != nil {
		panic(err)
	}

	j := queuetest.WorkOne(exampleT{}, client, "welcome_email")
	fmt.Println(j.Kind, j.Queue, j.State)
	// Output:
	// welcome u-42 (attempt 1)
	// welcome_email email completed
}

// A rolled-back transaction takes its jobs with it.
func ExampleClient_EnqueueTx() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	client := exampleClient(db)

	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := client.EnqueueTx(ctx, tx, WelcomeEmail{UserID: "u-1"}, nil); err != nil {
			return err
		}
		return errors.New("the user's insert failed")
	})
	fmt.Println(err)
	var n int
	_ = db.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job").Scan(&n)
	fmt.Println("jobs:", n)
	// Output:
	// the user's insert failed
	// jobs: 0
}

// Options choose when and how a job runs; uniqueness turns a repeated
// enqueue into a no-op that reports the existing job.
func ExampleClient_Enqueue() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	client := exampleClient(db)

	opts := &queue.EnqueueOpts{
		In:       10 * time.Minute,
		Priority: 2,
		Tags:     []string{"signup"},
		Unique:   &queue.Unique{ByArgs: true, Period: time.Hour},
	}
	first, _ := client.Enqueue(ctx, WelcomeEmail{UserID: "u-7"}, opts)
	again, _ := client.Enqueue(ctx, WelcomeEmail{UserID: "u-7"}, opts)
	fmt.Println(first.State, first.Priority, first.Tags)
	fmt.Println("duplicate:", again.Duplicate, "same job:", again.ID == first.ID)

	_, err := client.Enqueue(ctx, WelcomeEmail{UserID: "u-8"}, &queue.EnqueueOpts{Priority: -1})
	fmt.Println(errors.Is(err, queue.ErrInvalid), err)
	// Output:
	// scheduled 2 [signup]
	// duplicate: true same job: true
	// true enqueue welcome_email job: invalid: Priority must be between 1 and 4, got -1
}

// A job that keeps failing is discarded after its last attempt; an
// operator finds it and runs it again.
func ExampleClient_ListDiscarded() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	reg := queue.NewRegistry()
	down := true
	_ = queue.Register(reg, func(context.Context, *queue.Job[WelcomeEmail]) error {
		if down {
			return errors.New("mail server down")
		}
		return nil
	}, queue.KindOptions{MaxAttempts: 1})
	client, _ := queue.New(queue.Config{Pool: db.Pool, Registry: reg})

	_, _ = client.Enqueue(ctx, WelcomeEmail{UserID: "u-9"}, nil)
	fmt.Println(queuetest.WorkOne(exampleT{}, client, "welcome_email").State)

	discarded, _ := client.ListDiscarded(ctx, queue.ListOpts{Kind: "welcome_email"})
	for _, j := range discarded {
		fmt.Printf("%s %s: %s\n", j.Kind, j.Args, j.Errors[len(j.Errors)-1].Error)
		down = false
		_, _ = client.Retry(ctx, j.ID)
	}
	fmt.Println(queuetest.WorkOne(exampleT{}, client, "welcome_email").State)
	// Output:
	// discarded
	// welcome_email {"user_id": "u-9"}: mail server down
	// completed
}

// The default retry policy: exponential backoff, capped, with jitter.
func ExampleBackoff() {
	b := queue.DefaultBackoff()
	b.Rand = func() float64 { return 0.5 } // the middle of the jitter range
	for _, n := range []int{1, 2, 3, 10, 13, 20} {
		fmt.Printf("after failure %d: %v\n", n, b.Delay(n))
	}
	// Output:
	// after failure 1: 1s
	// after failure 2: 2s
	// after failure 3: 4s
	// after failure 10: 8m32s
	// after failure 13: 1h0m0s
	// after failure 20: 1h0m0s
}

func ExampleParseSchedule() {
	s, err := queue.ParseSchedule("30 2 * * MON")
	if err != nil {
		panic(err)
	}
	next := s.Next(time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC))
	fmt.Println(next.Format(time.RFC1123))

	_, err = queue.ParseSchedule("30 2 * *")
	fmt.Println(err)
	// Output:
	// Mon, 07 Jan 2030 02:30:00 UTC
	// cron schedule "30 2 * *": expected exactly 5 fields, found 4: [30 2 * *]
}

// A worker process: queues with their concurrency, a periodic job, and a
// graceful stop.
func ExampleClient_Start() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	reg := queue.NewRegistry()
	ran := make(chan string, 1)
	_ = queue.Register(reg, func(_ context.Context, j *queue.Job[WelcomeEmail]) error {
		ran <- j.Args.UserID
		return nil
	}, queue.KindOptions{})

	worker, err := queue.New(queue.Config{
		Pool:     db.Pool,
		Registry: reg,
		Queues:   map[string]queue.QueueConfig{queue.QueueDefault: {MaxWorkers: 10}},
		Periodic: []queue.PeriodicJob{{
			Name: "digest", Schedule: "0 8 * * *", Args: WelcomeEmail{UserID: "digest"}, RunOnStart: true,
		}},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		panic(err)
	}
	if err := worker.Start(ctx); err != nil {
		panic(err)
	}
	fmt.Println("ran", <-ran)

	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	fmt.Println("stopped:", worker.Stop(stopCtx))
	// Output:
	// ran digest
	// stopped: <nil>
}

func exampleClient(db *pgtest.DB) *queue.Client {
	reg := queue.NewRegistry()
	if err := queue.Register(reg, sendWelcome, queue.KindOptions{}); err != nil {
		panic(err)
	}
	c, err := queue.New(queue.Config{Pool: db.Pool, Registry: reg})
	if err != nil {
		panic(err)
	}
	return c
}

// exampleT lets examples, which get no *testing.T, use pgtest and
// queuetest: failures panic (failing the example), cleanups run when the
// example calls done.
type exampleT struct {
	testing.TB // nil: methods not overridden below must not be called
	cleanups   *[]func()
}

func (exampleT) Helper()                        {}
func (exampleT) Name() string                   { return "Example" }
func (exampleT) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (exampleT) Fatal(a ...any)                 { panic(fmt.Sprint(a...)) }
func (exampleT) Errorf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (exampleT) Logf(string, ...any)            {}
func (e exampleT) Cleanup(f func())             { *e.cleanups = append(*e.cleanups, f) }
func (exampleT) Failed() bool                   { return false }

// exampleDB returns a fresh migrated database and the function that drops it.
func exampleDB() (*pgtest.DB, func()) {
	var cleanups []func()
	db := pgtest.New(exampleT{cleanups: &cleanups})
	return db, func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
}
