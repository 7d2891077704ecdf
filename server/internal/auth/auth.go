// Package auth authenticates requests with Ory Kratos sessions and keeps the
// server's users table in step with Kratos identities.
//
// A Verifier turns the credential a request carries into an identity.User:
//
//	v, err := auth.NewVerifier(cfg.KratosPublicURL,
//		auth.WithOnAuthenticated(users.Upsert))
//	u, err := v.Authenticate(ctx, md) // md: the request's incoming gRPC metadata
//
// It reads, in Kratos's own order of precedence, the x-session-token
// metadata, an authorization: Bearer token, or the Kratos session cookie in
// the cookie metadata (the gateway forwards the browser's Cookie header),
// and asks Kratos's public API who the session belongs to (GET
// /sessions/whoami). Missing, malformed, unknown, expired and revoked
// sessions give an error wrapping ErrUnauthenticated; a Kratos that cannot
// be reached or answers with a server error gives one wrapping
// ErrUnavailable. The transport maps them to codes.Unauthenticated and
// codes.Unavailable.
//
// Verified sessions are cached, keyed by a SHA-256 digest of the credential,
// for at most the cache TTL (DefaultCacheTTL, 5 s) and never past the
// session's own expiry, so a session revoked in Kratos keeps working for at
// most one TTL. A cache hit in the last fifth of an entry's life starts a
// verification in the background (refreshPoint), so that a busy session's
// requests do not all wait for Kratos when the entry runs out; a refresh
// that Kratos rejects drops the entry, one that fails otherwise is tried
// again halfway to the entry's expiry. Concurrent requests with the same
// credential share one verification. The OnAuthenticated hook runs once per verification against
// Kratos (not on cache hits); if it fails, the request fails and nothing is
// cached.
//
// HookHandler receives Kratos's web hooks after registration and after a
// settings change and passes the identity to the same kind of callback. See
// docs/auth.md for the whole picture.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	ory "github.com/ory/kratos-client-go"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/metadata"

	"github.com/groundwork-dev/groundwork/server/internal/identity"
)

// ErrUnauthenticated means the request carries no valid Kratos session:
// none at all, a malformed one, or one Kratos does not know, has expired or
// has revoked. The client should sign in.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrUnavailable means the session could not be checked because Kratos was
// unreachable, timed out or failed. The client may retry.
var ErrUnavailable = errors.New("session verification unavailable")

// Defaults of a Verifier.
const (
	DefaultCacheTTL      = 5 * time.Second
	DefaultCacheSize     = 10_000
	DefaultTimeout       = 5 * time.Second
	DefaultSessionCookie = "ory_kratos_session" // session.cookie.name in kratos.yml
)

// UserFunc receives an authenticated or changed user; the server passes the
// users store's upsert.
type UserFunc func(ctx context.Context, u identity.User) error

// Option configures a Verifier.
type Option func(*Verifier)

// WithCacheTTL sets how long a verified session is reused without asking
// Kratos again, which is also how long a revoked session may keep working.
// Zero disables the cache. Default DefaultCacheTTL.
func WithCacheTTL(d time.Duration) Option { return func(v *Verifier) { v.ttl = d } }

// WithCacheSize bounds the number of cached sessions; the least recently
// used one is evicted. Default DefaultCacheSize.
func WithCacheSize(n int) Option { return func(v *Verifier) { v.cacheSize = n } }

// WithOnAuthenticated sets a callback run after each verification against
// Kratos, before the request proceeds. An error fails the request.
func WithOnAuthenticated(fn UserFunc) Option { return func(v *Verifier) { v.onAuth = fn } }

// WithTimeout bounds one verification (the Kratos call and the callback)
// and one readiness check. Default DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(v *Verifier) { v.timeout = d } }

// WithHTTPClient sets the client that talks to Kratos (for a custom
// transport, e.g. TLS to Kratos). Default: a client of its own.
func WithHTTPClient(c *http.Client) Option { return func(v *Verifier) { v.httpClient = c } }

// WithSessionCookie sets the name of Kratos's session cookie. Default
// DefaultSessionCookie.
func WithSessionCookie(name string) Option { return func(v *Verifier) { v.cookieName = name } }

// WithGracePeriod lets a cached session be served for up to d past its TTL
// while Kratos cannot answer (unreachable, failing, or not ready), never
// past the session's own expiry. Zero (the default) serves nothing stale.
func WithGracePeriod(d time.Duration) Option { return func(v *Verifier) { v.grace = d } }

// WithMetrics registers the session check counters
// (auth_session_checks_total{result}) with reg.
func WithMetrics(reg prometheus.Registerer) Option { return func(v *Verifier) { v.metricsReg = reg } }

// WithClock sets the time source of the cache (tests move it).
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// Verifier authenticates requests against Kratos. It is safe for concurrent
// use.
type Verifier struct {
	kratos     *ory.APIClient
	ttl        time.Duration
	grace      time.Duration
	cacheSize  int
	timeout    time.Duration
	httpClient *http.Client
	cookieName string
	now        func() time.Time
	onAuth     UserFunc

	cache *sessionCache
	ready readiness

	metricsReg prometheus.Registerer
	checks     *prometheus.CounterVec
	graceHits  prometheus.Counter

	mu       sync.Mutex
	inflight map[cacheKey]*verification
}

// readiness remembers a "not ready" verdict for readyTTL. Readiness is
// asked only when whoami answers 401 or 403; during an outage every
// request's whoami does, and without the memory an outage would double
// Kratos's load. A "ready" verdict is never reused: the outage may begin
// the moment after it, and a 401 then must not log anyone out.
type readiness struct {
	mu      sync.Mutex
	checked time.Time
	err     error
}

// readyTTL is how long a readiness verdict is reused.
const readyTTL = time.Second

// verification is one question to Kratos that concurrent requests with the
// same credential wait for.
type verification struct {
	done chan struct{}
	user identity.User
	err  error
}

// NewVerifier returns a Verifier that asks the Kratos public API at
// kratosPublicURL (e.g. http://127.0.0.1:4433).
func NewVerifier(kratosPublicURL string, opts ...Option) (*Verifier, error) {
	v := &Verifier{
		ttl:        DefaultCacheTTL,
		cacheSize:  DefaultCacheSize,
		timeout:    DefaultTimeout,
		cookieName: DefaultSessionCookie,
		now:        time.Now,
		inflight:   make(map[cacheKey]*verification),
	}
	for _, o := range opts {
		o(v)
	}
	u, err := url.Parse(kratosPublicURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("auth: the Kratos public URL must be an absolute http(s) URL, got %q", kratosPublicURL)
	case v.ttl < 0:
		return nil, fmt.Errorf("auth: cache TTL must not be negative, got %s", v.ttl)
	case v.grace < 0:
		return nil, fmt.Errorf("auth: grace period must not be negative, got %s", v.grace)
	case v.cacheSize < 1:
		return nil, fmt.Errorf("auth: cache size must be positive, got %d", v.cacheSize)
	case v.timeout <= 0:
		return nil, fmt.Errorf("auth: timeout must be positive, got %s", v.timeout)
	case v.cookieName == "":
		return nil, errors.New("auth: session cookie name must not be empty")
	case v.now == nil:
		return nil, errors.New("auth: clock must not be nil")
	}
	if v.httpClient == nil {
		v.httpClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	cfg := ory.NewConfiguration()
	// The client appends paths such as /sessions/whoami.
	cfg.Servers = ory.ServerConfigurations{{URL: strings.TrimRight(u.String(), "/")}}
	cfg.HTTPClient = v.httpClient
	cfg.UserAgent = "groundwork-server"
	v.kratos = ory.NewAPIClient(cfg)
	v.cache = newSessionCache(v.cacheSize)
	v.checks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "auth_session_checks_total",
		Help: "Session checks sent to Kratos (cache hits are not), by result: verified, rejected (Kratos's verdict), " +
			"outage_rejection (a 401/403 from a Kratos that is not ready: an outage, answered UNAVAILABLE), " +
			"unavailable (no answer, 5xx, too slow), error (the callback failed, or the identity has no email).",
	}, []string{"result"})
	for _, r := range []string{resultVerified, resultRejected, resultOutageRejection, resultUnavailable, resultError} {
		v.checks.WithLabelValues(r)
	}
	v.graceHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "auth_session_grace_served_total",
		Help: "Requests answered from a session cached past its TTL, within the grace period, because Kratos could not answer.",
	})
	if v.metricsReg != nil {
		for _, c := range []prometheus.Collector{v.checks, v.graceHits} {
			if err := v.metricsReg.Register(c); err != nil {
				return nil, fmt.Errorf("auth: register metrics: %w", err)
			}
		}
	}
	return v, nil
}

// The results of a session check, as counted.
const (
	resultVerified        = "verified"
	resultRejected        = "rejected"
	resultOutageRejection = "outage_rejection"
	resultUnavailable     = "unavailable"
	resultError           = "error"
)

// result names the outcome of a check for the counter.
func result(err error) string {
	var outage *outageRejection
	switch {
	case err == nil:
		return resultVerified
	case errors.Is(err, ErrUnauthenticated):
		return resultRejected
	case errors.As(err, &outage):
		return resultOutageRejection
	case errors.Is(err, ErrUnavailable):
		return resultUnavailable
	default:
		return resultError
	}
}

// Authenticate returns the user whose Kratos session the request metadata
// carries. An error wraps ErrUnauthenticated (its text names no
// credential, so it may be shown to the client), or wraps ctx's error when
// the caller gave up, or otherwise means authentication could not be
// decided: it wraps ErrUnavailable (Kratos unreachable, failing or slower
// than the timeout) or reports a failed OnAuthenticated callback or an
// identity without an email trait.
func (v *Verifier) Authenticate(ctx context.Context, md metadata.MD) (identity.User, error) {
	cred, err := credentialFrom(md, v.cookieName)
	if err != nil {
		return identity.User{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	key := cred.key()
	if v.ttl > 0 {
		if u, ok, refresh := v.cache.get(key, v.now()); ok {
			if refresh {
				v.start(ctx, key, cred)
			}
			return u, nil
		}
	}

	call := v.start(ctx, key, cred)
	select {
	case <-call.done:
		if errors.Is(call.err, ErrUnavailable) && v.grace > 0 {
			// Kratos cannot answer: a session it vouched for lately still
			// stands, for the grace period.
			if u, ok := v.cache.stale(key, v.now()); ok {
				v.graceHits.Inc()
				return u, nil
			}
		}
		return call.user, call.err
	case <-ctx.Done():
		return identity.User{}, fmt.Errorf("auth: wait for the session check: %w", ctx.Err())
	}
}

// start returns the verification of key in flight, starting one if none is.
func (v *Verifier) start(ctx context.Context, key cacheKey, cred credential) *verification {
	v.mu.Lock()
	defer v.mu.Unlock()
	call, running := v.inflight[key]
	if !running {
		call = &verification{done: make(chan struct{})}
		v.inflight[key] = call
		// Detached from the caller's cancellation so that the requests
		// waiting with it are not failed by one that gave up, and so that a
		// verified session is always recorded; bounded by the timeout.
		go v.run(context.WithoutCancel(ctx), key, cred, call)
	}
	return call
}

func (v *Verifier) run(ctx context.Context, key cacheKey, cred credential, call *verification) {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	defer func() {
		// This goroutine is outside the server's recovery interceptor: a
		// panicking callback fails the requests, not the process.
		if r := recover(); r != nil {
			call.user, call.err = identity.User{}, fmt.Errorf("auth: session verification panicked: %v", r)
		}
		v.mu.Lock()
		delete(v.inflight, key)
		v.mu.Unlock()
		close(call.done)
	}()
	u, expires, refreshAt, graceUntil, err := v.verify(ctx, cred)
	if err == nil && v.onAuth != nil {
		if herr := v.onAuth(ctx, u); herr != nil {
			err = fmt.Errorf("auth: record the authenticated user %s: %w", u.ID, herr)
		}
	}
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		// The check runs detached from the caller, so a context error here
		// is this Verifier's own timeout: Kratos (or the callback) was too
		// slow, which must read as unavailable, not as the caller's
		// deadline. The caller's own deadline is handled in Authenticate.
		// The cause is kept as text only, on purpose: wrapped, it would
		// match context.DeadlineExceeded.
		err = fmt.Errorf("%w: the session check took longer than %s: %s", ErrUnavailable, v.timeout, err.Error())
	}
	switch {
	case err == nil && v.ttl > 0:
		// Cached before the in-flight entry goes, so that no request
		// arriving in between asks Kratos again.
		v.cache.put(key, u, expires, refreshAt, graceUntil)
	case errors.Is(err, ErrUnauthenticated):
		// A refresh found the session revoked or expired: stop serving it
		// now rather than at the end of its TTL.
		v.cache.drop(key)
	case err != nil && v.ttl > 0:
		// A refresh that failed otherwise (Kratos unreachable or slow, the
		// callback failing) leaves the entry to its TTL; the next refresh
		// waits, so that a busy session does not send Kratos one check
		// after another while it is down.
		v.cache.postpone(key, v.now())
	}
	v.checks.WithLabelValues(result(err)).Inc()
	call.user, call.err = u, err
}

// verify asks Kratos about the credential and returns the session's user,
// until when it may be cached, when a refresh is due, and until when it may
// be served while Kratos cannot answer.
func (v *Verifier) verify(ctx context.Context, cred credential) (u identity.User, expires, refreshAt, graceUntil time.Time, err error) {
	req := v.kratos.FrontendAPI.ToSession(ctx)
	switch cred.kind {
	case kindToken:
		req = req.XSessionToken(cred.value)
	case kindCookie:
		req = req.Cookie(v.cookieName + "=" + cred.value)
	}
	sess, resp, err := req.Execute()
	if resp != nil {
		_ = resp.Body.Close() // the client has read it already
	}
	if err != nil {
		return identity.User{}, time.Time{}, time.Time{}, time.Time{}, v.classify(ctx, resp, err)
	}
	now := v.now()
	if !sess.GetActive() {
		return identity.User{}, time.Time{}, time.Time{}, time.Time{}, fmt.Errorf("%w: the session is not active", ErrUnauthenticated)
	}
	expires = now.Add(v.ttl)
	graceUntil = expires.Add(v.grace)
	if exp, ok := sess.GetExpiresAtOk(); ok && !exp.IsZero() {
		if !exp.After(now) {
			return identity.User{}, time.Time{}, time.Time{}, time.Time{}, fmt.Errorf("%w: the session has expired", ErrUnauthenticated)
		}
		if exp.Before(expires) {
			expires = *exp
		}
		if exp.Before(graceUntil) {
			graceUntil = *exp
		}
	}
	u, err = userFromSession(sess)
	if err != nil {
		return identity.User{}, time.Time{}, time.Time{}, time.Time{}, err
	}
	return u, expires, refreshPoint(now, expires), graceUntil, nil
}

// refreshPoint is when an entry cached at now until expires is verified
// again in the background: after four fifths of its life. Requests in
// the last fifth are served from the cache while the refresh runs, so that
// a busy session does not make all its requests wait for Kratos at every
// expiry; none is served past expires.
func refreshPoint(now, expires time.Time) time.Time {
	return now.Add(expires.Sub(now) * 4 / 5)
}

// classify maps a failed whoami call to the sentinels.
func (v *Verifier) classify(ctx context.Context, resp *http.Response, err error) error {
	if resp == nil {
		// No answer: connection refused, timeout, DNS, TLS.
		return fmt.Errorf("%w: ask Kratos for the session: %w", ErrUnavailable, err)
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		// 401: no such, expired or revoked session (error id
		// session_inactive). 403: the session's assurance level is too
		// low (session_aal2_required): the client must sign in again.
		// But Kratos also answers 401 when it cannot read its own
		// database: a rejection from a Kratos that is not ready says
		// nothing about the session, and must not log anyone out.
		if rerr := v.readyCached(ctx); rerr != nil {
			return &outageRejection{status: resp.StatusCode, id: kratosErrorID(err), notReady: rerr}
		}
		return fmt.Errorf("%w: Kratos rejected the session (%d%s)", ErrUnauthenticated, resp.StatusCode, kratosErrorID(err))
	case http.StatusOK:
		return fmt.Errorf("%w: Kratos's session answer could not be read: %w", ErrUnavailable, err)
	default:
		return fmt.Errorf("%w: Kratos answered the session check with %d%s", ErrUnavailable, resp.StatusCode, kratosErrorID(err))
	}
}

// outageRejection is a 401 or 403 from a Kratos that is not ready: it
// wraps ErrUnavailable, and its text says why it is not a verdict.
type outageRejection struct {
	status   int
	id       string // ", session_inactive" or ""
	notReady error  // what Kratos's readiness check said
}

func (e *outageRejection) Error() string {
	return fmt.Sprintf("%s: Kratos rejected the session (%d%s) while it is not ready, which is an outage, not a verdict: %s",
		ErrUnavailable, e.status, e.id, e.notReady)
}

func (e *outageRejection) Unwrap() []error { return []error{ErrUnavailable, e.notReady} }

// kratosErrorID returns ", <id>" for Kratos's error id (session_inactive,
// ...) when the error carries one.
func kratosErrorID(err error) string {
	var oe *ory.GenericOpenAPIError
	if !errors.As(err, &oe) {
		return ""
	}
	if m, ok := oe.Model().(ory.ErrorGeneric); ok && m.Error.Id != nil {
		return ", " + *m.Error.Id
	}
	return ""
}

func userFromSession(sess *ory.Session) (identity.User, error) {
	id, ok := sess.GetIdentityOk()
	if !ok || id.GetId() == "" {
		return identity.User{}, fmt.Errorf("%w: Kratos returned session %s without an identity", ErrUnavailable, sess.GetId())
	}
	traits, _ := id.GetTraits().(map[string]any)
	email, _ := traits["email"].(string)
	name, _ := traits["name"].(string)
	if email == "" {
		// A schema without the email trait: a configuration error, not the
		// client's fault.
		return identity.User{}, fmt.Errorf("auth: identity %s (schema %s) has no email trait", id.GetId(), id.GetSchemaId())
	}
	return identity.User{ID: id.GetId(), Email: email, DisplayName: name, SessionID: sess.GetId()}, nil
}

// readyCached is Ready, a failure reused for readyTTL.
func (v *Verifier) readyCached(ctx context.Context) error {
	v.ready.mu.Lock()
	defer v.ready.mu.Unlock()
	now := v.now()
	if v.ready.err != nil && !now.Before(v.ready.checked) && now.Sub(v.ready.checked) < readyTTL {
		return v.ready.err
	}
	v.ready.err = v.Ready(ctx)
	v.ready.checked = now
	return v.ready.err
}

// Ready reports whether Kratos's public API is ready (its /health/ready,
// which also checks Kratos's database), for the server's /readyz. The error
// wraps ErrUnavailable.
func (v *Verifier) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	_, resp, err := v.kratos.MetadataAPI.IsReady(ctx).Execute()
	if resp != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return fmt.Errorf("%w: Kratos is not ready: %w", ErrUnavailable, err)
	}
	return nil
}
