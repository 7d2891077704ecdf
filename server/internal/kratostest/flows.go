package kratostest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"
)

// User is a set of registration data.
type User struct {
	Email, Name, Password string
}

// NewUser returns a user nobody has registered: a random email address and a
// random password that passes Kratos's password policy.
func NewUser() User {
	id := randHex(6)
	return User{
		Email:    "user-" + id + "@groundwork.test",
		Name:     "User " + id,
		Password: "pw-" + randHex(12),
	}
}

// Session is a signed-in Kratos session.
type Session struct {
	// Token is the session token of an API flow (empty for browser flows);
	// clients send it as X-Session-Token or Authorization: Bearer.
	Token string
	// Cookie is the session cookie of a browser flow (nil for API flows).
	Cookie *http.Cookie
	// ID is the session's id (for the admin API), IdentityID its identity's.
	ID, IdentityID string
	ExpiresAt      time.Time
}

type sessionJSON struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
	Identity  struct {
		ID string `json:"id"`
	} `json:"identity"`
}

type flowResult struct {
	SessionToken string      `json:"session_token"`
	Session      sessionJSON `json:"session"`
}

// Register signs a new identity up through the API (native app) registration
// flow and returns its session: the registration hooks sign it in.
func (k *Kratos) Register(t testing.TB, email, name, password string) Session {
	t.Helper()
	flow := k.apiFlow(t, "registration")
	var res flowResult
	k.submit(t, k.http, "/self-service/registration?flow="+url.QueryEscape(flow), map[string]any{
		"method":   "password",
		"traits":   map[string]string{"email": email, "name": name},
		"password": password,
	}, nil, &res)
	return res.session(t, "registration")
}

// Login signs in through the API login flow and returns the new session.
func (k *Kratos) Login(t testing.TB, email, password string) Session {
	t.Helper()
	flow := k.apiFlow(t, "login")
	var res flowResult
	k.submit(t, k.http, "/self-service/login?flow="+url.QueryEscape(flow), map[string]any{
		"method":     "password",
		"identifier": email,
		"password":   password,
	}, nil, &res)
	return res.session(t, "login")
}

// RegisterBrowser signs a new identity up through the browser registration
// flow, the way the webapp does it (CSRF cookie and token, JSON requests),
// and returns the session cookie Kratos sets.
func (k *Kratos) RegisterBrowser(t testing.TB, email, name, password string) Session {
	t.Helper()
	return k.browserFlow(t, "registration", map[string]any{
		"method":   "password",
		"traits":   map[string]string{"email": email, "name": name},
		"password": password,
	})
}

// LoginBrowser signs in through the browser login flow and returns the
// session cookie.
func (k *Kratos) LoginBrowser(t testing.TB, email, password string) Session {
	t.Helper()
	return k.browserFlow(t, "login", map[string]any{
		"method":     "password",
		"identifier": email,
		"password":   password,
	})
}

// UpdateTraits changes a session's identity traits through the API settings
// flow (the "profile" method), as a user editing their profile.
func (k *Kratos) UpdateTraits(t testing.TB, s Session, email, name string) {
	t.Helper()
	if s.Token == "" {
		t.Fatal("kratostest: UpdateTraits needs an API session (with a token)")
	}
	hdr := http.Header{"X-Session-Token": {s.Token}}
	var flow struct {
		ID string `json:"id"`
	}
	k.do(t, k.http, http.MethodGet, k.PublicURL+"/self-service/settings/api", nil, hdr, http.StatusOK, &flow)
	k.submit(t, k.http, "/self-service/settings?flow="+url.QueryEscape(flow.ID), map[string]any{
		"method": "profile",
		"traits": map[string]string{"email": email, "name": name},
	}, hdr, nil)
}

// RevokeSession revokes a session through the admin API, as an operator or
// "sign out everywhere" would.
func (k *Kratos) RevokeSession(t testing.TB, sessionID string) {
	t.Helper()
	resp, err := k.Admin.IdentityAPI.DisableSession(ctx(t), sessionID).Execute()
	if resp != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("kratostest: revoke session %s: %v", sessionID, err)
	}
}

func (r flowResult) session(t testing.TB, flow string) Session {
	t.Helper()
	if r.Session.ID == "" || r.Session.Identity.ID == "" {
		t.Fatalf("kratostest: the %s flow returned no session", flow)
	}
	return Session{Token: r.SessionToken, ID: r.Session.ID, IdentityID: r.Session.Identity.ID, ExpiresAt: r.Session.ExpiresAt}
}

func (k *Kratos) apiFlow(t testing.TB, kind string) string {
	t.Helper()
	var flow struct {
		ID string `json:"id"`
	}
	k.do(t, k.http, http.MethodGet, k.PublicURL+"/self-service/"+kind+"/api", nil, nil, http.StatusOK, &flow)
	if flow.ID == "" {
		t.Fatalf("kratostest: the %s flow has no id", kind)
	}
	return flow.ID
}

// browserFlow runs a browser flow with a cookie jar. With Accept:
// application/json Kratos answers with JSON instead of redirecting to the UI.
func (k *Kratos) browserFlow(t testing.TB, kind string, body map[string]any) Session {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("kratostest: cookie jar: %v", err)
	}
	client := &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		// A browser would follow redirects to the UI, which does not exist here.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var flow struct {
		ID string `json:"id"`
		UI struct {
			Nodes []struct {
				Attributes struct {
					Name  string `json:"name"`
					Value any    `json:"value"`
				} `json:"attributes"`
			} `json:"nodes"`
		} `json:"ui"`
	}
	k.do(t, client, http.MethodGet, k.PublicURL+"/self-service/"+kind+"/browser", nil, nil, http.StatusOK, &flow)
	for _, n := range flow.UI.Nodes {
		if n.Attributes.Name == "csrf_token" {
			body["csrf_token"] = n.Attributes.Value
		}
	}
	if body["csrf_token"] == nil {
		t.Fatalf("kratostest: the browser %s flow has no csrf_token node", kind)
	}
	var res flowResult
	k.submit(t, client, "/self-service/"+kind+"?flow="+url.QueryEscape(flow.ID), body, nil, &res)
	s := res.session(t, "browser "+kind)
	u, err := url.Parse(k.PublicURL)
	if err != nil {
		t.Fatalf("kratostest: %v", err)
	}
	for _, c := range jar.Cookies(u) {
		if c.Name == SessionCookieName {
			s.Cookie = c
		}
	}
	if s.Cookie == nil {
		t.Fatalf("kratostest: the browser %s flow set no %s cookie", kind, SessionCookieName)
	}
	return s
}

// SessionCookieName is the session cookie's name in kratos.yml
// (session.cookie.name).
const SessionCookieName = "ory_kratos_session"

func (k *Kratos) submit(t testing.TB, client *http.Client, path string, body any, hdr http.Header, out any) {
	t.Helper()
	k.do(t, client, http.MethodPost, k.PublicURL+path, body, hdr, http.StatusOK, out)
}

// do sends a JSON request and decodes the JSON answer into out; any status
// but want fails the test with Kratos's answer (which names the problem,
// e.g. a password policy message).
func (k *Kratos) do(t testing.TB, client *http.Client, method, u string, body any, hdr http.Header, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("kratostest: encode request: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx(t), method, u, rd)
	if err != nil {
		t.Fatalf("kratostest: %v", err)
	}
	for name, v := range hdr {
		req.Header[name] = v
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("kratostest: %s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatalf("kratostest: %s %s: read answer: %v", method, u, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("kratostest: %s %s: status %d, want %d: %s", method, u, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("kratostest: %s %s: decode answer: %v", method, u, err)
		}
	}
}

// ctx is a context for one helper call: the test's, bounded.
func ctx(t testing.TB) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
