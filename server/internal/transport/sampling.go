package transport

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// LogSampling thins the request log of busy methods, as zap's production
// logger does: in every second, each method's first First INFO lines are
// written, and after them one in Thereafter. Lines at WARN and above (server
// faults, Unavailable, DeadlineExceeded, panics) are always written. A
// method's successes and its client errors (INFO lines with another code)
// are counted apart, so that a flood of one does not thin the other. The
// zero value writes every line.
//
// Why: at a few thousand requests a second a line per request is MBs of
// log a second per process, and formatting it was about 3.5 % of the
// server's CPU under load (docs/performance.md); the metrics count every
// request anyway.
type LogSampling struct {
	First      int // lines written per method, kind and second before sampling; 0 writes every line
	Thereafter int // after First, one line in Thereafter is written; 0: none
}

// sampler decides which INFO request lines are written. Its methods map is
// filled once, from the registered services, before the server starts, and
// only read afterwards, so it needs no lock.
type sampler struct {
	first, every int64
	methods      map[string]*methodSample // by full method name
	dropped      *prometheus.Desc
}

type methodSample struct {
	service, method string
	ok, failed      window
}

// window counts the lines of one method and kind in the current second.
type window struct {
	end     atomic.Int64 // Unix nanoseconds at which the current second ends
	n       atomic.Int64 // lines seen in it
	dropped atomic.Uint64
}

func newSampler(cfg LogSampling) *sampler {
	if cfg.First <= 0 {
		return nil
	}
	return &sampler{
		first: int64(cfg.First), every: int64(max(cfg.Thereafter, 0)),
		methods: map[string]*methodSample{},
		dropped: prometheus.NewDesc("grpc_server_log_lines_sampled_out_total",
			"Request log lines at INFO not written because of log sampling (--log-sample), by method.",
			[]string{"grpc_service", "grpc_method"}, nil),
	}
}

// addServices makes the registered methods known; lines of unknown
// methods are always written.
func (s *sampler) addServices(services map[string]grpc.ServiceInfo) {
	for service, info := range services {
		for _, m := range info.Methods {
			s.methods["/"+service+"/"+m.Name] = &methodSample{service: service, method: m.Name}
		}
	}
}

// keep reports whether the INFO line of an RPC of fullMethod, successful or
// not, ending at now, is written.
func (s *sampler) keep(fullMethod string, ok bool, now time.Time) bool {
	m := s.methods[fullMethod]
	if m == nil {
		return true
	}
	w := &m.failed
	if ok {
		w = &m.ok
	}
	return w.keep(now.UnixNano(), s.first, s.every)
}

func (w *window) keep(now, first, every int64) bool {
	if end := w.end.Load(); now >= end && w.end.CompareAndSwap(end, now+int64(time.Second)) {
		// A line counted by another goroutine between the swap and this
		// store is forgotten: the new second may keep one line too many.
		w.n.Store(0)
	}
	n := w.n.Add(1)
	if n <= first || (every > 0 && (n-first)%every == 0) {
		return true
	}
	w.dropped.Add(1)
	return false
}

// Describe and Collect export the dropped lines, read from the windows
// at scrape time: the request path touches no shared metric for them.
func (s *sampler) Describe(ch chan<- *prometheus.Desc) { ch <- s.dropped }

func (s *sampler) Collect(ch chan<- prometheus.Metric) {
	for _, m := range s.methods {
		n := m.ok.dropped.Load() + m.failed.dropped.Load()
		ch <- prometheus.MustNewConstMetric(s.dropped, prometheus.CounterValue, float64(n), m.service, m.method)
	}
}
