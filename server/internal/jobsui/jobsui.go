// Package jobsui serves River UI (riverqueue.com/riverui: the job queue's
// web console — jobs, their errors, retries, queues) to operators, on the
// server's ops port under Prefix, behind authentication:
//
//   - the caller must hold a Kratos session (the browser's session cookie,
//     X-Session-Token, or Authorization: Bearer), checked by the same
//     authenticator as the API's; without one: 401;
//   - the session's identity must be in the operator allow-list
//     (--riverui-operators, Kratos identity IDs); otherwise: 403;
//   - a state-changing request (anything but GET/HEAD/OPTIONS: retry,
//     cancel, delete jobs, pause queues) authenticated by cookie must come
//     from the console's own page: its Origin (or, without one, Referer)
//     must be the origin the request was sent to. Otherwise: 403. A page of
//     another site (or another port of the same host) cannot make the
//     operator's browser act.
//
// Kratos being unreachable is 503. Every refusal and every state-changing
// request of an operator is logged (msg="river ui").
package jobsui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"google.golang.org/grpc/metadata"
	"riverqueue.com/riverui"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/transport"
)

// Prefix is where the ops port serves River UI.
const Prefix = "/riverui"

// Config configures the handler.
type Config struct {
	// Queue is the process's queue client; River UI reads and changes jobs
	// through the River client underneath.
	Queue *queue.Client
	// Authenticator verifies the caller's Kratos session (errors follow
	// transport.Authenticator's contract).
	Authenticator transport.Authenticator
	// Operators are the Kratos identity IDs allowed in; empty: nobody.
	Operators []string
	Logger    *slog.Logger
}

// Handler is River UI behind operator authentication. Start it before
// serving; Stop (or the end of Start's context) stops River UI's
// background services.
type Handler struct {
	ui        *riverui.Handler
	auth      transport.Authenticator
	operators []string
	log       *slog.Logger
	cancel    context.CancelFunc
}

// New builds the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Queue == nil || cfg.Authenticator == nil {
		return nil, errors.New("jobsui: Queue and Authenticator are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(cfg.Queue.River(), nil),
		Logger:    slog.New(canceledIsNotAnError{cfg.Logger.Handler()}),
		Prefix:    Prefix,
		// Job arguments may carry personal data (IDs, e-mail addresses):
		// shown on demand, not in every listing.
		JobListHideArgsByDefault: true,
	})
	if err != nil {
		return nil, fmt.Errorf("jobsui: %w", err)
	}
	return &Handler{ui: ui, auth: cfg.Authenticator, operators: slices.Clone(cfg.Operators), log: cfg.Logger}, nil
}

// canceledIsNotAnError logs River UI's records about a canceled context at
// DEBUG: its background query cache logs the query that Stop (shutdown)
// cancels as an ERROR, which is not one.
type canceledIsNotAnError struct{ slog.Handler }

func (h canceledIsNotAnError) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		r.Attrs(func(a slog.Attr) bool {
			// By chain, or by text when the error was flattened on its way.
			if err, ok := a.Value.Any().(error); ok && (errors.Is(err, context.Canceled) || strings.HasSuffix(err.Error(), context.Canceled.Error())) {
				r.Level = slog.LevelDebug
				return false
			}
			return true
		})
	}
	if !h.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h canceledIsNotAnError) WithAttrs(attrs []slog.Attr) slog.Handler {
	return canceledIsNotAnError{h.Handler.WithAttrs(attrs)}
}

func (h canceledIsNotAnError) WithGroup(name string) slog.Handler {
	return canceledIsNotAnError{h.Handler.WithGroup(name)}
}

// Start starts River UI's background services; they stop when ctx ends or
// at Stop.
func (h *Handler) Start(ctx context.Context) error {
	ctx, h.cancel = context.WithCancel(ctx)
	if err := h.ui.Start(ctx); err != nil {
		return fmt.Errorf("jobsui: start River UI: %w", err)
	}
	return nil
}

// Stop stops River UI's background services. It may be called more than
// once.
func (h *Handler) Stop() {
	if h.cancel != nil {
		h.cancel()
	}
}

// Metadata keys the authenticator reads (transport.MD*).
var credentialHeaders = map[string]string{
	transport.MDCookie:        "Cookie",
	transport.MDSessionToken:  "X-Session-Token",
	transport.MDAuthorization: "Authorization",
}

// ServeHTTP authenticates the caller, then serves River UI.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	md := metadata.MD{}
	for key, header := range credentialHeaders {
		if v := r.Header.Values(header); len(v) > 0 {
			md[key] = v
		}
	}
	refuse := func(status int, reason string, attrs ...any) {
		h.log.InfoContext(r.Context(), "river ui", append([]any{"method", r.Method, "path", r.URL.Path, "status", status, "refused", reason}, attrs...)...)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = fmt.Fprintln(w, reason)
	}
	if len(md) == 0 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="river-ui"`)
		refuse(http.StatusUnauthorized, "River UI needs a Kratos session of an operator: sign in to the app on this host, or send X-Session-Token")
		return
	}
	u, err := h.auth.Authenticate(r.Context(), md)
	switch {
	case errors.Is(err, transport.ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Bearer realm="river-ui"`)
		refuse(http.StatusUnauthorized, "River UI needs a Kratos session of an operator: "+err.Error())
		return
	case err != nil:
		refuse(http.StatusServiceUnavailable, "authentication is unavailable, try again", "error", err.Error())
		return
	case !slices.Contains(h.operators, u.ID):
		refuse(http.StatusForbidden, "River UI is for operators: your identity is not in --riverui-operators (RIVERUI_OPERATORS)", "user_id", u.ID)
		return
	}
	if !safeMethod(r.Method) {
		if _, byCookie := md[transport.MDCookie]; byCookie && len(md) == 1 {
			if reason := sameOrigin(r); reason != "" {
				refuse(http.StatusForbidden, "cross-site request refused: "+reason, "user_id", u.ID)
				return
			}
		}
		h.log.InfoContext(r.Context(), "river ui", "method", r.Method, "path", r.URL.Path, "user_id", u.ID)
	}
	h.ui.ServeHTTP(w, r.WithContext(identity.With(r.Context(), u)))
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin says what is wrong when r did not come from a page of the
// origin it was sent to ("" when it did).
func sameOrigin(r *http.Request) string {
	want := "http://" + strings.ToLower(r.Host)
	if r.TLS != nil {
		want = "https://" + strings.ToLower(r.Host)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		ref, err := url.Parse(r.Header.Get("Referer"))
		if err != nil || ref.Host == "" {
			return "no Origin or Referer header"
		}
		origin = ref.Scheme + "://" + ref.Host
	}
	if strings.ToLower(origin) != want {
		return fmt.Sprintf("origin %q is not %q", origin, want)
	}
	return ""
}
