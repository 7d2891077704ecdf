package transport

import (
	"context"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// refusals logs and counts the RPCs that grpc-go ends before the
// interceptor chain runs, and that the logging and metrics interceptors
// therefore never see: above all a request larger than MaxMessageSize
// (RESOURCE_EXHAUSTED), also a request that does not decode. It is a
// stats.Handler: TagRPC puts every RPC's rpcState on its context, the
// logging interceptor records in it that it saw the RPC, and HandleRPC's
// End event reports the others. TagConn notes each connection's client for
// the request log.
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

func (r refusals) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	conn, _ := ctx.Value(connInfoKey{}).(*connInfo)
	return context.WithValue(ctx, rpcStateKey{}, newRPCState(info.FullMethodName, conn))
}

func (r refusals) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if in, ok := s.(*stats.InHeader); ok && !in.Client {
		if st, ok := rpcStateFrom(ctx); ok {
			st.header = in.Header
		}
		return
	}
	end, ok := s.(*stats.End)
	if !ok || end.Client {
		return
	}
	m, ok := rpcStateFrom(ctx)
	if !ok || m.seen.Load() {
		return
	}
	st := status.Convert(end.Error)
	if st.Code() == codes.OK {
		return
	}
	service, method := splitMethod(m.method)
	r.counter.WithLabelValues(service, method, st.Code().String()).Inc()
	log := r.log
	if m.conn != nil && m.conn.log != nil {
		log = slog.New(m.conn.log) // with the client's peer and peer_cn
	}
	log.LogAttrs(ctx, slog.LevelWarn, "rpc refused before the interceptors",
		slog.String("method", m.method),
		slog.String("code", st.Code().String()),
		slog.String("error", st.Message()),
		slog.Duration("duration", end.EndTime.Sub(end.BeginTime)),
	)
}

type connInfoKey struct{}

// TagConn works out once per connection what the request log says about
// its client (the RPCs' contexts derive from the connection's), and the
// log handler that says it.
func (r refusals) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ctx
	}
	c := newConnInfo(p)
	c.log = r.log.Handler().WithAttrs(c.appendAttrs(nil))
	return context.WithValue(ctx, connInfoKey{}, c)
}

func (refusals) HandleConn(context.Context, stats.ConnStats) {}

// splitMethod splits "/package.Service/Method".
func splitMethod(full string) (service, method string) {
	service, method, _ = strings.Cut(strings.TrimPrefix(full, "/"), "/")
	return service, method
}
