package dbpool

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports pgxpool.Stat as Prometheus metrics named pgxpool_*,
// read at each scrape.
type Collector struct {
	pool  *pgxpool.Pool
	descs []statDesc
}

type statDesc struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*pgxpool.Stat) float64
}

// NewCollector returns a collector over pool; register it with a
// prometheus.Registerer.
func NewCollector(pool *pgxpool.Pool) *Collector {
	d := func(name, help string, kind prometheus.ValueType, value func(*pgxpool.Stat) float64) statDesc {
		return statDesc{desc: prometheus.NewDesc("pgxpool_"+name, help, nil, nil), kind: kind, value: value}
	}
	g, c := prometheus.GaugeValue, prometheus.CounterValue
	return &Collector{pool: pool, descs: []statDesc{
		d("acquired_conns", "Connections currently acquired (in use).", g,
			func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }),
		d("idle_conns", "Connections currently idle.", g,
			func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }),
		d("constructing_conns", "Connections being established.", g,
			func(s *pgxpool.Stat) float64 { return float64(s.ConstructingConns()) }),
		d("total_conns", "All connections: acquired, idle and being established.", g,
			func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }),
		d("max_conns", "The pool's connection limit.", g,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }),
		d("acquires_total", "Successful acquires from the pool.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }),
		d("acquire_duration_seconds_total", "Time spent in successful acquires.", c,
			func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }),
		d("empty_acquires_total", "Acquires that had to wait because no connection was idle.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }),
		d("empty_acquire_wait_seconds_total", "Time spent waiting in acquires that found no idle connection.", c,
			func(s *pgxpool.Stat) float64 { return s.EmptyAcquireWaitTime().Seconds() }),
		d("canceled_acquires_total", "Acquires canceled by their context.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.CanceledAcquireCount()) }),
		d("new_conns_total", "Connections opened.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.NewConnsCount()) }),
		d("max_lifetime_destroys_total", "Connections closed for reaching their maximum lifetime.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxLifetimeDestroyCount()) }),
		d("max_idle_destroys_total", "Connections closed for being idle too long.", c,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxIdleDestroyCount()) }),
	}}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.desc
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	for _, d := range c.descs {
		ch <- prometheus.MustNewConstMetric(d.desc, d.kind, d.value(s))
	}
}
