package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/server/internal/auth"
	"github.com/groundwork-dev/groundwork/server/internal/clocktest"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type testBundle struct {
	k     *kratostest.Kratos
	v     *auth.Verifier
	clock *clocktest.Clock
	calls *countingTransport // requests to Kratos
	seen  *recorder          // OnAuthenticated calls
}

// setup returns a Verifier against k with a fake clock, a count of the
// requests it sends and a record of its OnAuthenticated calls.
func setup(t *testing.T, k *kratostest.Kratos, opts ...auth.Option) *testBundle {
	t.Helper()
	b := &testBundle{
		k:     k,
		clock: clocktest.New(),
		calls: &countingTransport{next: http.DefaultTransport},
		seen:  &recorder{},
	}
	all := append([]auth.Option{
		auth.WithClock(b.clock.Now),
		auth.WithHTTPClient(&http.Client{Transport: b.calls}),
		auth.WithOnAuthenticated(b.seen.record),
	}, opts...)
	v, err := auth.NewVerifier(k.PublicURL, all...)
	require.NoError(t, err)
	b.v = v
	return b
}

func tokenMD(tok string) metadata.MD { return metadata.Pairs(auth.MetadataSessionToken, tok) }

func TestAuthenticateSessionToken(t *testing.T) {
	t.Parallel()
	b := setup(t, kratostest.Shared(t))
	u := kratostest.NewUser()
	s := b.k.Register(t, u.Email, u.Name, u.Password)

	got, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err)
	want := identity.User{ID: s.IdentityID, Email: u.Email, DisplayName: u.Name, SessionID: s.ID}
	require.Equal(t, want, got)
	require.Equal(t, []identity.User{want}, b.seen.users())
}

func TestAuthenticateBearer(t *testing.T) {
	t.Parallel()
	b := setup(t, kratostest.Shared(t), auth.WithCacheTTL(0))
	u := kratostest.NewUser()
	b.k.Register(t, u.Email, u.Name, u.Password)
	s := b.k.Login(t, u.Email, u.Password)

	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		got, err := b.v.Authenticate(t.Context(), metadata.Pairs("authorization", scheme+" "+s.Token))
		require.NoError(t, err, scheme)
		require.Equal(t, s.ID, got.SessionID)
		require.Equal(t, s.IdentityID, got.ID)
	}
	// A scheme that is not Kratos's is ignored, as Kratos ignores it.
	_, err := b.v.Authenticate(t.Context(), metadata.Pairs("authorization", "Basic dXNlcjpwdw=="))
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

func TestAuthenticateCookie(t *testing.T) {
	t.Parallel()
	b := setup(t, kratostest.Shared(t))
	u := kratostest.NewUser()
	s := b.k.RegisterBrowser(t, u.Email, u.Name, u.Password)

	// As a browser sends it through the gateway: other cookies around it,
	// possibly split over several cookie entries (HTTP/2).
	md := metadata.MD{auth.MetadataCookie: {
		"theme=dark; " + s.Cookie.Name + "=" + s.Cookie.Value + "; csrf_token_abc=xyz",
		"lang=en",
	}}
	got, err := b.v.Authenticate(t.Context(), md)
	require.NoError(t, err)
	require.Equal(t, identity.User{ID: s.IdentityID, Email: u.Email, DisplayName: u.Name, SessionID: s.ID}, got)

	// A fresh browser sign-in is a different session of the same identity.
	l := b.k.LoginBrowser(t, u.Email, u.Password)
	got, err = b.v.Authenticate(t.Context(), metadata.Pairs(auth.MetadataCookie, l.Cookie.String()))
	require.NoError(t, err)
	require.Equal(t, l.ID, got.SessionID)
	require.Equal(t, s.IdentityID, got.ID)
}

func TestAuthenticateRejects(t *testing.T) {
	t.Parallel()
	b := setup(t, kratostest.Shared(t), auth.WithCacheTTL(0))
	u := kratostest.NewUser()
	s := b.k.RegisterBrowser(t, u.Email, u.Name, u.Password)

	for _, tc := range []struct {
		name      string
		md        metadata.MD
		askKratos bool // whether the credential is well-formed enough to ask
	}{
		{"no metadata", nil, false},
		{"unrelated metadata", metadata.Pairs("user-agent", "x"), false},
		{"empty token", tokenMD(""), false},
		{"token with a newline", tokenMD("abc\ndef"), false},
		{"token with a space", tokenMD("abc def"), false},
		{"oversized token", tokenMD(string(make([]byte, 5000))), false},
		{"two tokens", metadata.MD{auth.MetadataSessionToken: {"a", "b"}}, false},
		{"empty bearer", metadata.Pairs("authorization", "Bearer "), false},
		{"two bearers", metadata.MD{"authorization": {"Bearer a", "Bearer b"}}, false},
		{"other cookies only", metadata.Pairs(auth.MetadataCookie, "theme=dark; lang=en"), false},
		{"two session cookies", metadata.Pairs(auth.MetadataCookie, s.Cookie.String()+"; "+s.Cookie.String()), false},
		{"unknown token", tokenMD("ory_st_0123456789abcdefghijklmnopqrstuv"), true},
		{"garbage token", tokenMD("garbage"), true},
		{"unknown bearer", metadata.Pairs("authorization", "Bearer garbage"), true},
		{"garbage cookie", metadata.Pairs(auth.MetadataCookie, kratostest.SessionCookieName+"=garbage"), true},
		{"tampered cookie", metadata.Pairs(auth.MetadataCookie, kratostest.SessionCookieName+"=x"+s.Cookie.Value), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.calls.n.Load()
			_, err := b.v.Authenticate(t.Context(), tc.md)
			require.ErrorIs(t, err, auth.ErrUnauthenticated)
			require.NotErrorIs(t, err, auth.ErrUnavailable)
			if tc.askKratos {
				require.Equal(t, before+1, b.calls.n.Load(), "asked Kratos once")
			} else {
				require.Equal(t, before, b.calls.n.Load(), "rejected without asking Kratos")
			}
		})
	}
	require.Empty(t, b.seen.users())
}

// cachedSession registers a user and verifies their session once, with a
// cache TTL of ttl.
func cachedSession(t *testing.T, ttl time.Duration) (*testBundle, kratostest.Session) {
	t.Helper()
	b := setup(t, kratostest.Shared(t), auth.WithCacheTTL(ttl))
	u := kratostest.NewUser()
	s := b.k.Register(t, u.Email, u.Name, u.Password)
	_, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err)
	require.EqualValues(t, 1, b.calls.n.Load())
	return b, s
}

// Revocation takes effect at the cached entry's refresh or when it runs
// out, at most one TTL.
func TestRevocationWithinTTL(t *testing.T) {
	t.Parallel()
	const ttl = 5 * time.Second
	b, s := cachedSession(t, ttl)

	b.k.RevokeSession(t, s.ID)

	b.clock.Advance(ttl*4/5 - time.Millisecond)
	got, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err, "still cached")
	require.Equal(t, s.ID, got.SessionID)
	require.EqualValues(t, 1, b.calls.n.Load(), "a cache hit before the refresh point does not ask Kratos")

	b.clock.Advance(time.Millisecond)
	_, err = b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err, "at the refresh point the entry is still served while Kratos is asked")
	// The refresh learns of the revocation and drops the entry, before
	// the TTL is over.
	require.Eventually(t, func() bool {
		_, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
		return errors.Is(err, auth.ErrUnauthenticated)
	}, 10*time.Second, 10*time.Millisecond)
	require.GreaterOrEqual(t, b.calls.n.Load(), int64(2))
	require.Len(t, b.seen.users(), 1, "OnAuthenticated ran for the one successful verification")

	// The rejection is not cached either way: still rejected, also past the TTL.
	b.clock.Advance(ttl)
	_, err = b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

// A session in use is verified again in the background in the last fifth
// of its cache entry's life: its requests do not wait for Kratos, and the
// refreshed entry serves past the first one's expiry.
func TestRefreshKeepsABusySessionFromWaiting(t *testing.T) {
	t.Parallel()
	const ttl = 5 * time.Second
	b, s := cachedSession(t, ttl)

	// The refresh will hang in OnAuthenticated until released.
	release := make(chan struct{})
	b.seen.block = release
	b.clock.Advance(ttl * 4 / 5)
	got, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err, "answered from the cache while the refresh hangs")
	require.Equal(t, s.ID, got.SessionID)
	require.Eventually(t, func() bool { return b.calls.n.Load() == 2 }, 10*time.Second, 10*time.Millisecond, "the refresh asked Kratos")
	close(release)
	require.Eventually(t, func() bool { return len(b.seen.users()) == 2 }, 10*time.Second, 10*time.Millisecond)

	b.clock.Advance(ttl/5 + time.Millisecond) // past the first entry's expiry
	got, err = b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err)
	require.Equal(t, s.ID, got.SessionID)
	require.EqualValues(t, 2, b.calls.n.Load(), "served by the refreshed entry")
}

// A refresh that fails without a verdict on the session (here the
// OnAuthenticated callback; Kratos unreachable is the same path) keeps the
// entry and waits before the next try: requests go on being answered from
// the cache, and Kratos is not asked again on every request.
func TestFailedRefreshWaitsBeforeTheNext(t *testing.T) {
	t.Parallel()
	const ttl = 5 * time.Second
	b, s := cachedSession(t, ttl)

	b.seen.mu.Lock()
	b.seen.fail = errors.New("users table unreachable")
	b.seen.mu.Unlock()
	b.clock.Advance(ttl * 4 / 5)
	_, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err, "answered from the cache")
	require.Eventually(t, func() bool { return b.calls.n.Load() == 2 }, 10*time.Second, 10*time.Millisecond, "the refresh asked Kratos")
	// Let the failed refresh finish before asking again.
	require.Eventually(t, func() bool { return b.v.InFlight() == 0 }, 10*time.Second, 10*time.Millisecond)

	for range 5 {
		_, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
		require.NoError(t, err)
	}
	// A refresh these requests started would have asked Kratos by the time
	// it is no longer in flight.
	require.Eventually(t, func() bool { return b.v.InFlight() == 0 }, 10*time.Second, 10*time.Millisecond)
	require.EqualValues(t, 2, b.calls.n.Load(), "no new refresh before half the remaining time")

	b.clock.Advance(ttl / 10) // halfway to the expiry: due again
	_, err = b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.calls.n.Load() == 3 }, 10*time.Second, 10*time.Millisecond, "the next refresh")
}

func TestRevocationWithoutCache(t *testing.T) {
	t.Parallel()
	b := setup(t, kratostest.Shared(t), auth.WithCacheTTL(0))
	u := kratostest.NewUser()
	s := b.k.Register(t, u.Email, u.Name, u.Password)

	for range 2 {
		_, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
		require.NoError(t, err)
	}
	require.EqualValues(t, 2, b.calls.n.Load(), "TTL 0: every request asks Kratos")
	require.Len(t, b.seen.users(), 2, "and every verification runs OnAuthenticated")

	b.k.RevokeSession(t, s.ID)
	_, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

// Concurrent first requests with one credential (a page load) share one
// verification and one OnAuthenticated call.
func TestConcurrentRequestsShareOneVerification(t *testing.T) {
	t.Parallel()
	b := setup(t, kratostest.Shared(t))
	u := kratostest.NewUser()
	s := b.k.Register(t, u.Email, u.Name, u.Password)

	release := make(chan struct{})
	b.seen.block = release
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() { _, errs[i] = b.v.Authenticate(t.Context(), tokenMD(s.Token)) })
	}
	// Let the verification finish only when every request has had a chance
	// to join it; those that come later hit the cache.
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, b.calls.n.Load())
	require.Len(t, b.seen.users(), 1)
}

func TestOnAuthenticatedFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, kratostest.Shared(t))
	u := kratostest.NewUser()
	s := b.k.Register(t, u.Email, u.Name, u.Password)

	boom := errors.New("database down")
	b.seen.fail = boom
	_, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.ErrorIs(t, err, boom)
	require.NotErrorIs(t, err, auth.ErrUnauthenticated)
	require.NotErrorIs(t, err, auth.ErrUnavailable)

	// Nothing was cached: the next request verifies and records again.
	b.seen.fail = nil
	_, err = b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err)
	require.EqualValues(t, 2, b.calls.n.Load())
	require.Len(t, b.seen.users(), 1, "recorded by the second verification")
}

func TestOnAuthenticatedPanic(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	u := kratostest.NewUser()
	s := k.Register(t, u.Email, u.Name, u.Password)
	v, err := auth.NewVerifier(k.PublicURL, auth.WithOnAuthenticated(func(context.Context, identity.User) error {
		panic("bug")
	}))
	require.NoError(t, err)
	_, err = v.Authenticate(t.Context(), tokenMD(s.Token))
	require.ErrorContains(t, err, "panicked: bug")
}

// A caller that gives up gets its context's error; the verification goes
// on and its result serves the next request.
func TestCallerCancels(t *testing.T) {
	t.Parallel()
	b := setup(t, kratostest.Shared(t))
	u := kratostest.NewUser()
	s := b.k.Register(t, u.Email, u.Name, u.Password)

	release := make(chan struct{})
	b.seen.block = release
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.v.Authenticate(ctx, tokenMD(s.Token))
	require.ErrorIs(t, err, context.Canceled)
	close(release)

	require.Eventually(t, func() bool { return len(b.seen.users()) == 1 }, 10*time.Second, 10*time.Millisecond)
	_, err = b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err)
	require.EqualValues(t, 1, b.calls.n.Load(), "served from the cache")
}

// A callback slower than the timeout makes authentication unavailable, not
// a deadline the caller exceeded.
func TestSlowCallback(t *testing.T) {
	t.Parallel()
	b := setup(t, kratostest.Shared(t), auth.WithTimeout(300*time.Millisecond))
	u := kratostest.NewUser()
	s := b.k.Register(t, u.Email, u.Name, u.Password)

	b.seen.block = make(chan struct{}) // never released
	_, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.ErrorIs(t, err, auth.ErrUnavailable)
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "took longer than 300ms")
}

// The cache never outlives the session: an entry expires with the session
// even when the TTL is longer, and Kratos then rejects it.
func TestExpiredSession(t *testing.T) {
	t.Parallel()
	const lifespan = 3 * time.Second
	k := kratostest.Start(t, kratostest.Options{Env: map[string]string{"SESSION_LIFESPAN": lifespan.String()}})
	b := setup(t, k, auth.WithCacheTTL(time.Hour))
	u := kratostest.NewUser()
	s := k.Register(t, u.Email, u.Name, u.Password)
	require.WithinDuration(t, time.Now().Add(lifespan), s.ExpiresAt, 2*time.Second)

	_, err := b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.NoError(t, err)

	// Wait (really: Kratos has its own clock) until the session is over.
	time.Sleep(time.Until(s.ExpiresAt) + 200*time.Millisecond)
	b.clock.Set(time.Now())
	_, err = b.v.Authenticate(t.Context(), tokenMD(s.Token))
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	require.ErrorContains(t, err, "401", "Kratos itself rejected it")
	require.EqualValues(t, 2, b.calls.n.Load(), "the cached entry ended with the session")
}

func TestKratosUnavailable(t *testing.T) {
	t.Parallel()
	k := kratostest.Start(t, kratostest.Options{})
	b := setup(t, k)
	u := kratostest.NewUser()
	cached := k.Register(t, u.Email, u.Name, u.Password)
	other := k.Login(t, u.Email, u.Password)

	require.NoError(t, b.v.Ready(t.Context()))
	_, err := b.v.Authenticate(t.Context(), tokenMD(cached.Token))
	require.NoError(t, err)

	k.Stop()

	err = b.v.Ready(t.Context())
	require.ErrorIs(t, err, auth.ErrUnavailable)

	_, err = b.v.Authenticate(t.Context(), tokenMD(other.Token))
	require.ErrorIs(t, err, auth.ErrUnavailable)
	require.NotErrorIs(t, err, auth.ErrUnauthenticated)

	// A session verified before the outage works until its entry runs out.
	_, err = b.v.Authenticate(t.Context(), tokenMD(cached.Token))
	require.NoError(t, err)
	b.clock.Advance(auth.DefaultCacheTTL)
	_, err = b.v.Authenticate(t.Context(), tokenMD(cached.Token))
	require.ErrorIs(t, err, auth.ErrUnavailable)
}

// Kratos answers whoami with 401 while it cannot reach its own database.
// That says nothing about the session: during the outage a valid session
// gets ErrUnavailable, never ErrUnauthenticated, and after it the same
// session works again; a session revoked before the outage is refused
// again once Kratos can tell.
func TestKratosLosingItsDatabaseLogsNobodyOut(t *testing.T) {
	t.Parallel()
	k, db := kratostest.StartWithDatabaseProxy(t, kratostest.Options{})
	reg := prometheus.NewRegistry()
	b := setup(t, k, auth.WithCacheTTL(0), auth.WithMetrics(reg))
	u := kratostest.NewUser()
	valid := k.Register(t, u.Email, u.Name, u.Password)
	revoked := k.Login(t, u.Email, u.Password)
	k.RevokeSession(t, revoked.ID)
	_, err := b.v.Authenticate(t.Context(), tokenMD(valid.Token))
	require.NoError(t, err)

	db.Down()
	readyBefore := b.calls.ready.Load()
	for range 5 {
		for _, s := range []kratostest.Session{valid, revoked} {
			_, err = b.v.Authenticate(t.Context(), tokenMD(s.Token))
			require.ErrorIs(t, err, auth.ErrUnavailable, "during the outage")
			require.NotErrorIs(t, err, auth.ErrUnauthenticated)
		}
	}
	require.Equal(t, readyBefore+1, b.calls.ready.Load(), "one failed readiness check serves the rejections within a second")

	db.Up(t)
	require.Eventually(t, func() bool { return b.v.Ready(t.Context()) == nil }, 30*time.Second, 100*time.Millisecond, "Kratos is ready again")
	b.clock.Advance(2 * time.Second) // past the cached readiness verdict
	_, err = b.v.Authenticate(t.Context(), tokenMD(valid.Token))
	require.NoError(t, err, "the same session works after the outage")
	readyBefore = b.calls.ready.Load()
	for range 2 {
		_, err = b.v.Authenticate(t.Context(), tokenMD(revoked.Token))
		require.ErrorIs(t, err, auth.ErrUnauthenticated, "a revoked session stays revoked")
	}
	require.Equal(t, readyBefore+2, b.calls.ready.Load(), "a ready verdict is not reused: an outage may start right after it")
	require.Equal(t, map[string]float64{"verified": 2, "rejected": 2, "outage_rejection": 10, "unavailable": 0, "error": 0},
		checksByResult(t, reg), "each path counted")
}

// checksByResult reads auth_session_checks_total from reg, by result.
func checksByResult(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "auth_session_checks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestKratosServerError(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusNotFound, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			srv := newStubKratos(t, status, `{"error":{"code":500,"status":"Internal Server Error","message":"boom"}}`)
			v, err := auth.NewVerifier(srv)
			require.NoError(t, err)
			_, err = v.Authenticate(t.Context(), tokenMD("token"))
			require.ErrorIs(t, err, auth.ErrUnavailable)
			require.ErrorIs(t, v.Ready(t.Context()), auth.ErrUnavailable)
		})
	}
	t.Run("unreadable session", func(t *testing.T) {
		t.Parallel()
		srv := newStubKratos(t, http.StatusOK, `{"not":"a session"`)
		v, err := auth.NewVerifier(srv)
		require.NoError(t, err)
		_, err = v.Authenticate(t.Context(), tokenMD("token"))
		require.ErrorIs(t, err, auth.ErrUnavailable)
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		srv := newSlowKratos(t, 2*time.Second)
		v, err := auth.NewVerifier(srv, auth.WithTimeout(100*time.Millisecond))
		require.NoError(t, err)
		_, err = v.Authenticate(t.Context(), tokenMD("token"))
		require.ErrorIs(t, err, auth.ErrUnavailable)
		require.NotErrorIs(t, err, context.DeadlineExceeded, "not the caller's deadline")
	})
}

// A base URL with a path or a trailing slash is joined without a double
// slash.
func TestKratosURLPath(t *testing.T) {
	t.Parallel()
	paths := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/health/ready") {
			// Asked after the 401: a ready Kratos, so the 401 is a verdict.
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"ok"}`))
			return
		}
		paths <- r.URL.Path
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	for _, base := range []string{srv.URL, srv.URL + "/", srv.URL + "/.ory/kratos/public/"} {
		v, err := auth.NewVerifier(base)
		require.NoError(t, err)
		_, err = v.Authenticate(t.Context(), tokenMD("token"))
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
		want := "/sessions/whoami"
		if strings.Contains(base, ".ory") {
			want = "/.ory/kratos/public/sessions/whoami"
		}
		require.Equal(t, want, <-paths, base)
	}
}

func TestNewVerifierRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		opts []auth.Option
		want string
	}{
		{"", nil, "absolute http(s) URL"},
		{"127.0.0.1:4433", nil, "absolute http(s) URL"},
		{"ftp://kratos", nil, "absolute http(s) URL"},
		{"http://kratos", []auth.Option{auth.WithCacheTTL(-time.Second)}, "cache TTL"},
		{"http://kratos", []auth.Option{auth.WithCacheSize(0)}, "cache size"},
		{"http://kratos", []auth.Option{auth.WithTimeout(0)}, "timeout"},
		{"http://kratos", []auth.Option{auth.WithSessionCookie("")}, "cookie name"},
		{"http://kratos", []auth.Option{auth.WithClock(nil)}, "clock"},
	} {
		_, err := auth.NewVerifier(tc.url, tc.opts...)
		require.ErrorContains(t, err, tc.want, tc.url)
	}
}

// --- helpers -------------------------------------------------------------

// countingTransport counts the session checks (whoami) sent to Kratos, and
// apart from them the readiness checks a rejection leads to.
type countingTransport struct {
	n, ready atomic.Int64
	next     http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/health/ready") {
		c.ready.Add(1)
	} else {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}

// recorder is an OnAuthenticated callback that records its users, and can
// fail or wait for a signal.
type recorder struct {
	mu    sync.Mutex
	seen  []identity.User
	fail  error
	block chan struct{}
}

func (r *recorder) record(ctx context.Context, u identity.User) error {
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.seen = append(r.seen, u)
	return nil
}

func (r *recorder) users() []identity.User {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]identity.User(nil), r.seen...)
}

// flakyKratos answers whoami with a session of identity i1, expiring at
// expires, while up is true, and with 503 while it is false.
type flakyKratos struct {
	up      atomic.Bool
	expires time.Time
}

func (f *flakyKratos) serve(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !f.up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":503,"status":"Service Unavailable","message":"down"}}`))
			return
		}
		_, _ = fmt.Fprintf(w, `{"id":"s1","active":true,"expires_at":%q,"identity":{"id":"i1","schema_id":"default","schema_url":"","traits":{"email":"ada@example.com","name":"Ada"}}}`,
			f.expires.UTC().Format(time.RFC3339Nano))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// While Kratos cannot answer, a session verified lately is served for the
// grace period past its TTL, never past the session's own expiry, and a
// session never verified is not.
func TestGracePeriodWhileKratosCannotAnswer(t *testing.T) {
	t.Parallel()
	const ttl, grace = 5 * time.Second, 30 * time.Second
	setup := func(t *testing.T, sessionLeft time.Duration) (*flakyKratos, *auth.Verifier, *clocktest.Clock, *prometheus.Registry) {
		t.Helper()
		clock := clocktest.New()
		k := &flakyKratos{expires: clock.Now().Add(sessionLeft)}
		k.up.Store(true)
		reg := prometheus.NewRegistry()
		v, err := auth.NewVerifier(k.serve(t), auth.WithCacheTTL(ttl), auth.WithGracePeriod(grace), auth.WithClock(clock.Now), auth.WithMetrics(reg))
		require.NoError(t, err)
		_, err = v.Authenticate(t.Context(), tokenMD("verified"))
		require.NoError(t, err)
		k.up.Store(false)
		return k, v, clock, reg
	}

	t.Run("within the grace period", func(t *testing.T) {
		t.Parallel()
		_, v, clock, reg := setup(t, time.Hour)
		clock.Advance(ttl + grace - time.Second)
		u, err := v.Authenticate(t.Context(), tokenMD("verified"))
		require.NoError(t, err, "served from the cache past its TTL")
		require.Equal(t, "i1", u.ID)
		_, err = v.Authenticate(t.Context(), tokenMD("never-verified"))
		require.ErrorIs(t, err, auth.ErrUnavailable)
		mfs, err := reg.Gather()
		require.NoError(t, err)
		served := 0.0
		for _, mf := range mfs {
			if mf.GetName() == "auth_session_grace_served_total" {
				served = mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		require.InDelta(t, 1, served, 0)
	})
	t.Run("not past it", func(t *testing.T) {
		t.Parallel()
		_, v, clock, _ := setup(t, time.Hour)
		clock.Advance(ttl + grace)
		_, err := v.Authenticate(t.Context(), tokenMD("verified"))
		require.ErrorIs(t, err, auth.ErrUnavailable)
	})
	t.Run("not past the session's expiry", func(t *testing.T) {
		t.Parallel()
		_, v, clock, _ := setup(t, ttl+time.Second)
		clock.Advance(ttl + 2*time.Second)
		_, err := v.Authenticate(t.Context(), tokenMD("verified"))
		require.ErrorIs(t, err, auth.ErrUnavailable)
	})
	t.Run("an answer from Kratos wins", func(t *testing.T) {
		t.Parallel()
		k, v, clock, _ := setup(t, time.Hour)
		clock.Advance(ttl + time.Second)
		k.up.Store(true)
		_, err := v.Authenticate(t.Context(), tokenMD("verified"))
		require.NoError(t, err)
	})
}

func TestGracePeriodMustNotBeNegative(t *testing.T) {
	t.Parallel()
	_, err := auth.NewVerifier("http://127.0.0.1:1", auth.WithGracePeriod(-time.Second))
	require.ErrorContains(t, err, "grace period must not be negative")
}
