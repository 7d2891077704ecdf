package transport

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// rpcState is what the interceptors of one RPC share, made once per RPC:
// the attributes that the interceptors and handlers inside the logging
// interceptor add to its one log line (so that they do not log on their
// own), whether a handler panicked, and what the refusals stats handler
// needs. TagRPC puts it on the RPC's context; the logging interceptor
// makes one when no stats handler did.
type rpcState struct {
	method string
	conn   *connInfo // the connection's peer, when TagConn saw it
	seen   atomic.Bool
	// header is the request's metadata as the InHeader stats event
	// carries it: a copy grpc-go makes for stats handlers anyway, read
	// here instead of copying the metadata again per key. Nil without a
	// stats handler; written before the interceptors run, read-only after.
	header metadata.MD

	mu    sync.Mutex
	attrs []slog.Attr
	panic bool
	// buf holds the first few attributes, so that the common line (a
	// user_id) allocates nothing more.
	buf [2]slog.Attr
}

func newRPCState(method string, conn *connInfo) *rpcState {
	st := &rpcState{method: method, conn: conn}
	st.attrs = st.buf[:0]
	return st
}

type rpcStateKey struct{}

func rpcStateFrom(ctx context.Context) (*rpcState, bool) {
	st, ok := ctx.Value(rpcStateKey{}).(*rpcState)
	return st, ok
}

// Annotate adds attributes to the request log line of the RPC whose
// context ctx is (the cause behind an INTERNAL status, say), so that the
// RPC is still logged once. Outside an RPC it does nothing.
func Annotate(ctx context.Context, attrs ...slog.Attr) { annotate(ctx, attrs...) }

func annotate(ctx context.Context, attrs ...slog.Attr) {
	if st, ok := rpcStateFrom(ctx); ok {
		st.mu.Lock()
		st.attrs = append(st.attrs, attrs...)
		st.mu.Unlock()
	}
}

// logger writes the request log line of every RPC, or of a sample of the
// INFO ones (sample, nil for every line).
type logger struct {
	log    *slog.Logger
	sample *sampler
}

// begin marks the RPC as seen by the interceptors and returns its state,
// and the context to carry on with when the state is new.
func (l logger) begin(ctx context.Context, method string) (context.Context, *rpcState) {
	st, ok := rpcStateFrom(ctx)
	if !ok {
		st = newRPCState(method, nil)
		ctx = context.WithValue(ctx, rpcStateKey{}, st)
	}
	st.seen.Store(true)
	return ctx, st
}

func (l logger) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	ctx, st := l.begin(ctx, info.FullMethod)
	resp, err := handler(ctx, req)
	l.write(ctx, info.FullMethod, start, err, st)
	return resp, err
}

func (l logger) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	ctx, st := l.begin(ss.Context(), info.FullMethod)
	if ctx != ss.Context() {
		ss = &contextStream{ServerStream: ss, ctx: ctx}
	}
	err := handler(srv, ss)
	l.write(ctx, info.FullMethod, start, err, st)
	return err
}

func (l logger) write(ctx context.Context, method string, start time.Time, err error, st *rpcState) {
	code := codes.OK
	var s *status.Status
	if err != nil {
		s = status.Convert(err)
		code = s.Code()
	}
	level := levelFor(code, st.panicked())
	// Every RPC passes here: skip building a line nobody keeps.
	h := l.log.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	now := time.Now()
	if level == slog.LevelInfo && l.sample != nil && !l.sample.keep(method, code == codes.OK, now) {
		return
	}
	// The record is built here rather than by Logger.LogAttrs, which asks
	// the runtime for the caller's program counter on every call: a stack
	// walk per RPC for a source location that would always be this line.
	r := slog.NewRecord(now, level, "rpc", 0)
	// A fixed array keeps the common line's attributes off the heap.
	var buf [8]slog.Attr
	attrs := append(buf[:0],
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Duration("duration", now.Sub(start)),
	)
	if c := st.conn; c != nil && c.log != nil {
		// The connection's own handler: peer and peer_cn formatted once
		// per connection rather than on every line.
		h = c.log
	} else {
		attrs = appendPeer(ctx, attrs, st.conn)
	}
	if ff := requestMD(ctx, st)["x-forwarded-for"]; len(ff) > 0 {
		attrs = append(attrs, slog.String("forwarded_for", ff[0]))
	}
	if err != nil {
		// error is what the client got; cause, when it says more, is the
		// error behind it (an error whose GRPCStatus hides its cause, as
		// grpcerr's do).
		attrs = append(attrs, slog.String("error", s.Message()))
		if cause := err.Error(); cause != s.Message() && cause != s.Err().Error() {
			attrs = append(attrs, slog.String("cause", cause))
		}
	}
	r.AddAttrs(attrs...)
	st.mu.Lock()
	r.AddAttrs(st.attrs...)
	st.mu.Unlock()
	_ = h.Handle(ctx, r) // as Logger.LogAttrs: a handler's error has nowhere to go
}

// appendPeer adds the client's address and certificate name: from the
// connection's connInfo, worked out once per connection, or else from the
// RPC's peer.
func appendPeer(ctx context.Context, attrs []slog.Attr, conn *connInfo) []slog.Attr {
	if conn == nil {
		p, ok := peer.FromContext(ctx)
		if !ok {
			return attrs
		}
		conn = newConnInfo(p)
	}
	return conn.appendAttrs(attrs)
}

// connInfo is what the request log says about a connection's client.
type connInfo struct {
	addr string // remote address
	cn   string // common name of the client certificate, if any
	// log, when set, is the request log's handler with addr and cn already
	// added (slog's handlers format WithAttrs once): the request line then
	// formats only the RPC's own attributes, and they fit in the record
	// without an allocation. Under load the line is the chain's largest
	// cost (docs/performance.md).
	log slog.Handler
}

func (c *connInfo) appendAttrs(attrs []slog.Attr) []slog.Attr {
	attrs = append(attrs, slog.String("peer", c.addr))
	if c.cn != "" {
		attrs = append(attrs, slog.String("peer_cn", c.cn))
	}
	return attrs
}

func newConnInfo(p *peer.Peer) *connInfo {
	c := &connInfo{}
	if p.Addr != nil {
		c.addr = p.Addr.String()
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
		c.cn = ti.State.PeerCertificates[0].Subject.CommonName
	}
	return c
}

// requestMD is the request's metadata (keys in lower case): the copy st
// kept from the stats handler, or else a new one.
func requestMD(ctx context.Context, st *rpcState) metadata.MD {
	if st != nil && st.header != nil {
		return st.header
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return md
}

func (st *rpcState) panicked() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.panic
}

// levelFor logs server faults as errors, conditions worth a look as
// warnings, and the client's own mistakes as information.
func levelFor(c codes.Code, panicked bool) slog.Level {
	switch {
	case panicked:
		return slog.LevelError
	case c == codes.Unknown || c == codes.Internal || c == codes.DataLoss || c == codes.Unimplemented:
		return slog.LevelError
	case c == codes.Unavailable || c == codes.DeadlineExceeded:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}

// recoverer turns panics into codes.Internal. It sits at both ends of the
// chain: innermost, around the handler, where it adds the panic and its
// stack to the request log line (so logging and metrics see INTERNAL);
// outermost, where it catches a panic in an interceptor and logs it itself,
// as the logging interceptor has been unwound. Either way a panic is logged
// once and the process keeps serving.
type recoverer struct {
	log    *slog.Logger
	panics prometheus.Counter
	outer  bool
}

var errInternal = status.Error(codes.Internal, "internal error")

func (r recoverer) recovered(ctx context.Context, method string, p any) error {
	r.panics.Inc()
	stack := string(debug.Stack())
	if r.outer {
		r.log.LogAttrs(ctx, slog.LevelError, "panic in interceptor",
			slog.String("method", method), slog.String("panic", fmt.Sprint(p)), slog.String("stack", stack))
		return errInternal
	}
	if st, ok := rpcStateFrom(ctx); ok {
		st.mu.Lock()
		st.panic = true
		st.attrs = append(st.attrs, slog.String("panic", fmt.Sprint(p)), slog.String("stack", stack))
		st.mu.Unlock()
	} else {
		r.log.LogAttrs(ctx, slog.LevelError, "panic in handler",
			slog.String("method", method), slog.String("panic", fmt.Sprint(p)), slog.String("stack", stack))
	}
	return errInternal
}

// catch is what the recovering interceptors defer: a panic below them
// becomes errInternal in *err. (A call that panicked has not set its other
// results: a unary response stays nil.)
func (r recoverer) catch(ctx context.Context, method string, err *error) {
	if p := recover(); p != nil {
		*err = r.recovered(ctx, method, p)
	}
}

func (r recoverer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer r.catch(ctx, info.FullMethod, &err)
	return handler(ctx, req)
}

func (r recoverer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer r.catch(ss.Context(), info.FullMethod, &err)
	return handler(srv, ss)
}

// validator is implemented by request messages that can check themselves.
type validator interface{ Validate() error }

// validate checks a message that implements validator. A status error from
// Validate is kept; any other error becomes INVALID_ARGUMENT with its text,
// which by the API's convention starts with the field name.
func validate(m any) error {
	v, ok := m.(validator)
	if !ok {
		return nil
	}
	err := v.Validate()
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.InvalidArgument, err.Error())
}

// validatingStream validates every message a client streams in.
type validatingStream struct{ grpc.ServerStream }

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return validate(m)
}

// edge is the outer end of the chain: recovery around logging, so that a
// panic anywhere below is caught, and the RPC's one log line. One link
// instead of two: each link of grpc-go's chain costs a closure and two
// stack frames per RPC.
type edge struct {
	rec recoverer // outer
	log logger
}

func (e edge) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer e.rec.catch(ctx, info.FullMethod, &err)
	return e.log.unary(ctx, req, info, handler)
}

func (e edge) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer e.rec.catch(ss.Context(), info.FullMethod, &err)
	return e.log.stream(srv, ss, info, handler)
}

// guard is the inner end of the chain, in this order: the default
// deadline (unary RPCs only: a health Watch is meant to last),
// authentication, validation, and recovery around the handler.
type guard struct {
	timeout time.Duration
	auth    Authenticator
	rec     recoverer // inner
}

func (g guard) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if _, ok := ctx.Deadline(); !ok {
		// No request holds a database connection or a Kratos call forever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.timeout)
		defer cancel()
	}
	ctx, err := authenticate(ctx, g.auth, info.FullMethod)
	if err != nil {
		return nil, err
	}
	if err := validate(req); err != nil {
		return nil, err
	}
	return g.rec.unary(ctx, req, info, handler)
}

func (g guard) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := authenticate(ss.Context(), g.auth, info.FullMethod)
	if err != nil {
		return err
	}
	return g.rec.stream(srv, &validatingStream{&contextStream{ServerStream: ss, ctx: ctx}}, info, handler)
}
