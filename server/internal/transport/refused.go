package transport

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// refusals logs and counts the RPCs that grpc-go ends before the
// interceptor chain runs, and that the logging and metrics interceptors
// therefore never see: above all a request larger than MaxMessageSize
// (RESOURCE_EXHAUSTED), also a request that does not decode. It is a
// stats.Handler: TagRPC marks every RPC, the logging interceptor records
// that it saw the RPC, and HandleRPC's End event reports the others.
type refusals struct {
	log     *slog.Logger
	counter *prometheus.CounterVec
}

func newRefusals(log *slog.Logger) refusals {
	return refusals{log: log, counter: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grpc_server_refused_total",
		Help: "RPCs ended by grpc-go before the interceptors ran (oversized or undecodable requests), by method and code.",
	}, []string{"grpc_service", "grpc_method", "grpc_code"})}
}

// rpcSeen is the mark TagRPC puts on an RPC's context.
type rpcSeen struct {
	method string
	seen   atomic.Bool
}

type rpcSeenKey struct{}

// markSeen records that the interceptors handled the RPC of ctx.
func markSeen(ctx context.Context) {
	if m, ok := ctx.Value(rpcSeenKey{}).(*rpcSeen); ok {
		m.seen.Store(true)
	}
}

func (r refusals) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, rpcSeenKey{}, &rpcSeen{method: info.FullMethodName})
}

func (r refusals) HandleRPC(ctx context.Context, s stats.RPCStats) {
	end, ok := s.(*stats.End)
	if !ok || end.Client {
		return
	}
	m, ok := ctx.Value(rpcSeenKey{}).(*rpcSeen)
	if !ok || m.seen.Load() {
		return
	}
	st := status.Convert(end.Error)
	if st.Code() == codes.OK {
		return
	}
	service, method := splitMethod(m.method)
	r.counter.WithLabelValues(service, method, st.Code().String()).Inc()
	r.log.LogAttrs(ctx, slog.LevelWarn, "rpc refused before the interceptors",
		slog.String("method", m.method),
		slog.String("code", st.Code().String()),
		slog.String("error", st.Message()),
		slog.Duration("duration", end.EndTime.Sub(end.BeginTime)),
	)
}

func (refusals) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (refusals) HandleConn(context.Context, stats.ConnStats)                       {}

// splitMethod splits "/package.Service/Method".
func splitMethod(full string) (service, method string) {
	service, method, _ = strings.Cut(strings.TrimPrefix(full, "/"), "/")
	return service, method
}
