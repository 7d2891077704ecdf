package transport

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// callLog collects attributes for the one log line of an RPC, so that the
// interceptors and handlers inside the logging interceptor add to that line
// instead of logging on their own.
type callLog struct {
	mu    sync.Mutex
	attrs []slog.Attr
	panic bool
}

type callLogKey struct{}

// Annotate adds attributes to the request log line of the RPC whose
// context ctx is (the cause behind an INTERNAL status, say), so that the
// RPC is still logged once. Outside an RPC it does nothing.
func Annotate(ctx context.Context, attrs ...slog.Attr) { annotate(ctx, attrs...) }

func annotate(ctx context.Context, attrs ...slog.Attr) {
	if cl, ok := ctx.Value(callLogKey{}).(*callLog); ok {
		cl.mu.Lock()
		cl.attrs = append(cl.attrs, attrs...)
		cl.mu.Unlock()
	}
}

// logger writes the request log line of every RPC.
type logger struct{ log *slog.Logger }

func (l logger) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	markSeen(ctx)
	cl := &callLog{}
	resp, err := handler(context.WithValue(ctx, callLogKey{}, cl), req)
	l.write(ctx, info.FullMethod, start, err, cl)
	return resp, err
}

func (l logger) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	cl := &callLog{}
	ctx := ss.Context()
	markSeen(ctx)
	err := handler(srv, &contextStream{ServerStream: ss, ctx: context.WithValue(ctx, callLogKey{}, cl)})
	l.write(ctx, info.FullMethod, start, err, cl)
	return err
}

func (l logger) write(ctx context.Context, method string, start time.Time, err error, cl *callLog) {
	code := codes.OK
	var st *status.Status
	if err != nil {
		st = status.Convert(err)
		code = st.Code()
	}
	level := levelFor(code, cl.panicked())
	// Every RPC passes here: skip building a line nobody keeps.
	if !l.log.Enabled(ctx, level) {
		return
	}
	// A fixed array keeps the common line's attributes off the heap.
	var buf [8]slog.Attr
	attrs := append(buf[:0],
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Duration("duration", time.Since(start)),
	)
	if p, ok := peer.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("peer", p.Addr.String()))
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			attrs = append(attrs, slog.String("peer_cn", ti.State.PeerCertificates[0].Subject.CommonName))
		}
	}
	// ValueFromIncomingContext reads one key without copying the metadata.
	if ff := metadata.ValueFromIncomingContext(ctx, "x-forwarded-for"); len(ff) > 0 {
		attrs = append(attrs, slog.String("forwarded_for", ff[0]))
	}
	if err != nil {
		// error is what the client got; cause, when it says more, is the
		// error behind it (an error whose GRPCStatus hides its cause, as
		// grpcerr's do).
		attrs = append(attrs, slog.String("error", st.Message()))
		if cause := err.Error(); cause != st.Message() && cause != st.Err().Error() {
			attrs = append(attrs, slog.String("cause", cause))
		}
	}
	cl.mu.Lock()
	attrs = append(attrs, cl.attrs...)
	cl.mu.Unlock()
	l.log.LogAttrs(ctx, level, "rpc", attrs...)
}

func (cl *callLog) panicked() bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.panic
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
	if cl, ok := ctx.Value(callLogKey{}).(*callLog); ok {
		cl.mu.Lock()
		cl.panic = true
		cl.attrs = append(cl.attrs, slog.String("panic", fmt.Sprint(p)), slog.String("stack", stack))
		cl.mu.Unlock()
	} else {
		r.log.LogAttrs(ctx, slog.LevelError, "panic in handler",
			slog.String("method", method), slog.String("panic", fmt.Sprint(p)), slog.String("stack", stack))
	}
	return errInternal
}

func (r recoverer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, r.recovered(ctx, info.FullMethod, p)
		}
	}()
	return handler(ctx, req)
}

func (r recoverer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = r.recovered(ss.Context(), info.FullMethod, p)
		}
	}()
	return handler(srv, ss)
}

// defaultDeadline gives a unary RPC without a deadline one, so that no
// request holds a database connection or a Kratos call forever. Streams
// are left alone: a health Watch is meant to last.
func defaultDeadline(d time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if _, ok := ctx.Deadline(); ok {
			return handler(ctx, req)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return handler(ctx, req)
	}
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

func validateUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func validateStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &validatingStream{ss})
}

// validatingStream validates every message a client streams in.
type validatingStream struct{ grpc.ServerStream }

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return validate(m)
}
