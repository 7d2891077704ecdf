// Package queue is Groundwork's PostgreSQL job queue (pgqueue): typed jobs,
// transactional enqueue, retries, periodic jobs and metrics on top of River
// (github.com/riverqueue/river), whose tables the migrator creates.
//
// # Kinds
//
// A job kind is an Args type (a struct with JSON tags and a Kind method)
// plus a Handler, registered once with its defaults:
//
//	type WelcomeEmail struct{ UserID string `json:"user_id"` }
//
//	func (WelcomeEmail) Kind() string { return "welcome_email" }
//
//	reg := queue.NewRegistry()
//	err := queue.Register(reg, sendWelcome, queue.KindOptions{Queue: "email", MaxAttempts: 5})
//
// # Enqueue
//
// EnqueueTx writes the job in the caller's transaction, so the job exists
// if and only if the business write commits; Enqueue and EnqueueMany use
// their own. EnqueueOpts choose the queue, priority, a time (At) or delay
// (In), max attempts, uniqueness and tags. Bad input (nil args, an
// unregistered kind, a priority outside 1..4, ...) is an error wrapping
// ErrInvalid or ErrUnknownKind, and nothing is written.
//
// # Working
//
// A Client with Queues works jobs after Start, at most MaxWorkers at a
// time per queue. A nil error completes the job; Cancel(err) cancels it;
// Snooze(d) runs it again after d without using an attempt; any other
// error or a panic fails the attempt, and the job is retried after the
// kind's RetryPolicy delay (Backoff: exponential with jitter) until
// MaxAttempts, then discarded. Discarded jobs stay listed (ListDiscarded)
// until Config.DiscardedRetention; Retry runs one again.
//
// Stop shuts down gracefully (see Client.Stop). A process that dies leaves
// its jobs running; the leader rescues them after RescueStuckJobsAfter. A
// job may therefore run more than once: CompleteTx completes it in the
// handler's own transaction, which makes its database effects exactly-once.
//
// # Periodic jobs and leadership
//
// Config.Periodic jobs are enqueued from cron schedules (ParseSchedule) by
// the one client elected leader among all running clients; the leader also
// runs River's maintenance: scheduling due retries, rescuing stuck jobs,
// deleting old finished jobs.
//
// # Metrics
//
// With Config.Metrics, a client registers: counters pgqueue_jobs_enqueued_total,
// _started_total, _completed_total, _failed_total, _retried_total,
// _discarded_total, _cancelled_total, _snoozed_total (labels kind, queue);
// the histogram pgqueue_job_run_duration_seconds (kind, queue); and gauges
// read from river_job at scrape time, pgqueue_queue_depth and
// pgqueue_queue_oldest_available_age_seconds (queue), with
// pgqueue_queue_scrape_errors_total counting failed or timed-out reads.
//
// # Tests
//
// Package queuetest checks enqueued jobs and runs jobs synchronously;
// Config.Clock (queuetest.Clock) makes time advance on demand.
package queue
