package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river/rivertype"
)

// Metric names, all prefixed pgqueue_.
const (
	MetricEnqueued    = "pgqueue_jobs_enqueued_total"
	MetricStarted     = "pgqueue_jobs_started_total"
	MetricCompleted   = "pgqueue_jobs_completed_total"
	MetricFailed      = "pgqueue_jobs_failed_total"
	MetricRetried     = "pgqueue_jobs_retried_total"
	MetricDiscarded   = "pgqueue_jobs_discarded_total"
	MetricCancelled   = "pgqueue_jobs_cancelled_total"
	MetricSnoozed     = "pgqueue_jobs_snoozed_total"
	MetricDuration    = "pgqueue_job_run_duration_seconds"
	MetricDepth       = "pgqueue_queue_depth"
	MetricOldestAge   = "pgqueue_queue_oldest_available_age_seconds"
	MetricScrapeError = "pgqueue_queue_scrape_errors_total"
)

// metrics are the counters a client updates. A nil *metrics records
// nothing, so that code paths need no checks.
type metrics struct {
	enqueuedC, startedC, completedC, failedC, retriedC, discardedC, cancelledC, snoozedC *prometheus.CounterVec
	duration                                                                             *prometheus.HistogramVec

	// children caches each (kind, queue)'s series: resolving labels costs
	// more than the increments themselves, on every job.
	mu       sync.RWMutex
	children map[kindQueue]*series
}

type kindQueue struct{ kind, queue string }

// series are the metrics of one kind in one queue.
type series struct {
	enqueued, started, completed, failed, retried, discarded, cancelled, snoozed prometheus.Counter
	duration                                                                     prometheus.Observer
}

func (m *metrics) series(kind, queue string) *series {
	k := kindQueue{kind, queue}
	m.mu.RLock()
	s, ok := m.children[k]
	m.mu.RUnlock()
	if ok {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.children[k]; ok {
		return s
	}
	s = &series{
		enqueued: m.enqueuedC.WithLabelValues(kind, queue), started: m.startedC.WithLabelValues(kind, queue),
		completed: m.completedC.WithLabelValues(kind, queue), failed: m.failedC.WithLabelValues(kind, queue),
		retried: m.retriedC.WithLabelValues(kind, queue), discarded: m.discardedC.WithLabelValues(kind, queue),
		cancelled: m.cancelledC.WithLabelValues(kind, queue), snoozed: m.snoozedC.WithLabelValues(kind, queue),
		duration: m.duration.WithLabelValues(kind, queue),
	}
	m.children[k] = s
	return s
}

func newMetrics(reg prometheus.Registerer, pool *pgxpool.Pool, timeout time.Duration, log *slog.Logger) (*metrics, error) {
	labels := []string{"kind", "queue"}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &metrics{
		enqueuedC:  counter(MetricEnqueued, "Jobs inserted by this process (counted at insert, also when the caller's transaction later rolls back); unique duplicates are not counted."),
		startedC:   counter(MetricStarted, "Job attempts started."),
		completedC: counter(MetricCompleted, "Job attempts that completed the job."),
		failedC:    counter(MetricFailed, "Job attempts that returned an error or panicked (retried, discarded or cancelled after)."),
		retriedC:   counter(MetricRetried, "Failed attempts followed by a scheduled retry."),
		discardedC: counter(MetricDiscarded, "Failed attempts that used up the job's attempts, so the job was discarded."),
		cancelledC: counter(MetricCancelled, "Attempts that cancelled their job (queue.Cancel)."),
		snoozedC:   counter(MetricSnoozed, "Attempts that snoozed their job (queue.Snooze)."),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricDuration,
			Help:    "Duration of job attempts, by kind and queue.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, labels),
		children: map[kindQueue]*series{},
	}
	cs := []prometheus.Collector{
		m.enqueuedC, m.startedC, m.completedC, m.failedC, m.retriedC, m.discardedC, m.cancelledC, m.snoozedC,
		m.duration, newDepthCollector(pool, timeout, log),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register queue metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) enqueued(kind, queue string) {
	if m != nil {
		m.series(kind, queue).enqueued.Inc()
	}
}

func (m *metrics) started(kind, queue string) {
	if m != nil {
		m.series(kind, queue).started.Inc()
	}
}

func (m *metrics) finished(row *rivertype.JobRow, o outcome, d time.Duration) {
	if m == nil {
		return
	}
	s := m.series(row.Kind, row.Queue)
	s.duration.Observe(d.Seconds())
	switch o {
	case outcomeCompleted:
		s.completed.Inc()
	case outcomeSnoozed:
		s.snoozed.Inc()
	case outcomeCancelled:
		s.failed.Inc()
		s.cancelled.Inc()
	case outcomeRetried:
		s.failed.Inc()
		s.retried.Inc()
	case outcomeDiscarded:
		s.failed.Inc()
		s.discarded.Inc()
	case outcomeInterrupted:
		// Not a failure: River puts the job back without using an attempt.
	}
}

// depthCollector reports, at scrape time, each queue's available jobs and
// how long the oldest has been waiting. One indexed query per scrape
// (River's fetch index covers state, queue, scheduled_at), bounded by a
// timeout so a slow database slows no scrape by more than that.
type depthCollector struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	log     *slog.Logger
	depth   *prometheus.Desc
	age     *prometheus.Desc
	errs    prometheus.Counter
}

func newDepthCollector(pool *pgxpool.Pool, timeout time.Duration, log *slog.Logger) *depthCollector {
	return &depthCollector{
		pool:    pool,
		timeout: timeout,
		log:     log,
		depth:   prometheus.NewDesc(MetricDepth, "Jobs available to run now, by queue (read from river_job at scrape time).", []string{"queue"}, nil),
		age:     prometheus.NewDesc(MetricOldestAge, "Seconds the oldest available job of each queue has been due (0 when none).", []string{"queue"}, nil),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricScrapeError,
			Help: "Scrapes whose queue depth query failed or timed out (the depth metrics are then missing).",
		}),
	}
}

func (d *depthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- d.depth
	ch <- d.age
	d.errs.Describe(ch)
}

// depthQuery reports every queue that has available jobs or a live
// client (river_queue), so an empty queue shows 0 instead of vanishing.
const depthQuery = `
WITH avail AS (
  SELECT queue, count(*) AS n, min(scheduled_at) AS oldest
    FROM river_job
   WHERE state = 'available'
   GROUP BY queue
)
SELECT coalesce(a.queue, q.name), coalesce(a.n, 0),
       coalesce(extract(epoch FROM now() - a.oldest), 0)::float8
  FROM avail a FULL JOIN river_queue q ON q.name = a.queue`

func (d *depthCollector) Collect(ch chan<- prometheus.Metric) {
	defer d.errs.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	rows, err := d.pool.Query(ctx, depthQuery)
	if err != nil {
		d.fail(err)
		return
	}
	defer rows.Close()
	type row struct {
		queue string
		n     int64
		age   float64
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.queue, &r.n, &r.age); err != nil {
			d.fail(err)
			return
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		d.fail(err)
		return
	}
	for _, r := range got {
		ch <- prometheus.MustNewConstMetric(d.depth, prometheus.GaugeValue, float64(r.n), r.queue)
		ch <- prometheus.MustNewConstMetric(d.age, prometheus.GaugeValue, max(r.age, 0), r.queue)
	}
}

func (d *depthCollector) fail(err error) {
	d.errs.Inc()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %v: %w", d.timeout, err)
	}
	d.log.Warn("queue metrics: reading queue depth", slog.String("error", err.Error()))
}
