// Package queue is Groundwork's PostgreSQL job queue (pgqueue): typed jobs,
// transactional enqueue, retries, periodic jobs and metrics on top of River.
package queue
