package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/auth"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
)

const hookKey = "0123456789abcdef0123456789abcdef-test-key"

func TestHookHandler(t *testing.T) {
	t.Parallel()
	const id = "6F0D3B9E-5C4A-4E8B-9D2A-1B3C4D5E6F70"
	good := `{"identity_id":"` + id + `","email":"ada@example.com","name":"Ada"}`
	for _, tc := range []struct {
		name        string
		method      string
		key         string
		contentType string
		body        string
		fail        error
		wantStatus  int
		wantBody    string
		wantUser    *identity.User
	}{
		{name: "good", body: good, wantStatus: http.StatusNoContent,
			wantUser: &identity.User{ID: strings.ToLower(id), Email: "ada@example.com", DisplayName: "Ada"}},
		{name: "no name", body: `{"identity_id":"` + id + `","email":"ada@example.com"}`, wantStatus: http.StatusNoContent,
			wantUser: &identity.User{ID: strings.ToLower(id), Email: "ada@example.com"}},
		{name: "unknown fields are ignored", body: `{"identity_id":"` + id + `","email":"a@b","name":"A","event":"x"}`, wantStatus: http.StatusNoContent,
			wantUser: &identity.User{ID: strings.ToLower(id), Email: "a@b", DisplayName: "A"}},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: good, wantStatus: http.StatusNoContent,
			wantUser: &identity.User{ID: strings.ToLower(id), Email: "ada@example.com", DisplayName: "Ada"}},
		{name: "GET", method: http.MethodGet, wantStatus: http.StatusMethodNotAllowed},
		{name: "no key", key: "-", body: good, wantStatus: http.StatusUnauthorized},
		{name: "wrong key", key: hookKey + "x", body: good, wantStatus: http.StatusUnauthorized},
		{name: "key prefix", key: hookKey[:20], body: good, wantStatus: http.StatusUnauthorized},
		{name: "not json", contentType: "text/plain", body: good, wantStatus: http.StatusUnsupportedMediaType},
		{name: "no content type", contentType: "-", body: good, wantStatus: http.StatusUnsupportedMediaType},
		{name: "bad json", body: `{"identity_id":`, wantStatus: http.StatusBadRequest, wantBody: "malformed JSON"},
		{name: "json array", body: `[]`, wantStatus: http.StatusBadRequest, wantBody: "malformed JSON"},
		{name: "two objects", body: good + good, wantStatus: http.StatusBadRequest, wantBody: "data after the object"},
		{name: "wrong type", body: `{"identity_id":1,"email":"a@b"}`, wantStatus: http.StatusBadRequest, wantBody: "malformed JSON"},
		{name: "missing id", body: `{"email":"ada@example.com"}`, wantStatus: http.StatusBadRequest, wantBody: "identity_id must be a UUID"},
		{name: "id not a uuid", body: `{"identity_id":"1234","email":"ada@example.com"}`, wantStatus: http.StatusBadRequest, wantBody: "identity_id must be a UUID"},
		{name: "missing email", body: `{"identity_id":"` + id + `","name":"Ada"}`, wantStatus: http.StatusBadRequest, wantBody: "email is missing"},
		{name: "bad email", body: `{"identity_id":"` + id + `","email":"ada"}`, wantStatus: http.StatusBadRequest, wantBody: "email is not an email address"},
		{name: "control characters", body: `{"identity_id":"` + id + `","email":"a@b","name":"A\u0000"}`, wantStatus: http.StatusBadRequest, wantBody: "name"},
		{name: "too large", body: `{"identity_id":"` + id + `","email":"a@b","name":"` + strings.Repeat("x", 70<<10) + `"}`, wantStatus: http.StatusRequestEntityTooLarge},
		{name: "callback fails", body: good, fail: errors.New("database down"), wantStatus: http.StatusInternalServerError, wantBody: "could not record the identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []identity.User
			h, err := auth.NewHookHandler(hookKey, func(_ context.Context, u identity.User) error {
				if tc.fail != nil {
					return tc.fail
				}
				got = append(got, u)
				return nil
			}, nil)
			require.NoError(t, err)

			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequestWithContext(t.Context(), method, "/kratos/identity", strings.NewReader(tc.body))
			switch tc.key {
			case "":
				req.Header.Set(auth.HookKeyHeader, hookKey)
			case "-":
			default:
				req.Header.Set(auth.HookKeyHeader, tc.key)
			}
			switch tc.contentType {
			case "":
				req.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				req.Header.Set("Content-Type", tc.contentType)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			require.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), tc.wantBody)
			if tc.wantUser != nil {
				require.Equal(t, []identity.User{*tc.wantUser}, got)
			} else {
				require.Empty(t, got, "nothing written")
			}
			if tc.wantStatus == http.StatusMethodNotAllowed {
				require.Equal(t, http.MethodPost, rec.Header().Get("Allow"))
			}
		})
	}
}

func TestNewHookHandlerRejectsBadConfig(t *testing.T) {
	t.Parallel()
	ok := func(context.Context, identity.User) error { return nil }
	_, err := auth.NewHookHandler("short", ok, nil)
	require.ErrorContains(t, err, "at least 32 characters")
	_, err = auth.NewHookHandler(hookKey, nil, nil)
	require.ErrorContains(t, err, "callback")
}

// Kratos itself calls the handler after registration and after a profile
// change, with the repository's Jsonnet body and the API key, configured
// the way docs/auth.md says.
func TestHookFromKratos(t *testing.T) {
	t.Parallel()
	calls := make(chan identity.User, 10)
	h, err := auth.NewHookHandler(hookKey, func(_ context.Context, u identity.User) error {
		calls <- u
		return nil
	}, nil)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	env := map[string]string{}
	for _, p := range []string{
		"SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS_0_CONFIG_",
		"SELFSERVICE_FLOWS_SETTINGS_AFTER_PROFILE_HOOKS_0_CONFIG_",
	} {
		env[p+"AUTH_CONFIG_VALUE"] = hookKey
		env[p+"URL"] = srv.URL + "/kratos/identity"
		env[p+"BODY"] = "file://" + filepath.Join(kratosConfigDir(t), "identity-hook.jsonnet")
	}
	k := kratostest.Start(t, kratostest.Options{ConfigFiles: []string{"identity-hook.yml"}, Env: env})

	u := kratostest.NewUser()
	s := k.Register(t, u.Email, u.Name, u.Password)
	require.Equal(t, identity.User{ID: s.IdentityID, Email: u.Email, DisplayName: u.Name}, receive(t, k, calls))

	b := kratostest.NewUser()
	k.RegisterBrowser(t, b.Email, b.Name, b.Password)
	require.Equal(t, b.Email, receive(t, k, calls).Email, "browser registrations too")

	k.UpdateTraits(t, s, "renamed-"+u.Email, "Renamed")
	require.Equal(t, identity.User{ID: s.IdentityID, Email: "renamed-" + u.Email, DisplayName: "Renamed"}, receive(t, k, calls))
}

// A hook that fails (here: Kratos was not given the key) does not fail the
// registration: the hook is asynchronous, and the first authenticated
// request records the user anyway.
func TestHookFailureDoesNotFailRegistration(t *testing.T) {
	t.Parallel()
	h, err := auth.NewHookHandler(hookKey, func(context.Context, identity.User) error {
		t.Error("the callback ran for a request without the key")
		return nil
	}, nil)
	require.NoError(t, err)
	statuses := make(chan int, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		statuses <- rec.Code
		w.WriteHeader(rec.Code)
	}))
	t.Cleanup(srv.Close)

	k := kratostest.Start(t, kratostest.Options{ConfigFiles: []string{"identity-hook.yml"}, Env: map[string]string{
		"SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS_0_CONFIG_URL": srv.URL + "/kratos/identity",
		"SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS_0_CONFIG_BODY": "file://" +
			filepath.Join(kratosConfigDir(t), "identity-hook.jsonnet"),
	}})
	u := kratostest.NewUser()
	s := k.Register(t, u.Email, u.Name, u.Password)
	require.NotEmpty(t, s.Token, "registered and signed in")
	select {
	case code := <-statuses:
		require.Equal(t, http.StatusUnauthorized, code)
	case <-time.After(15 * time.Second):
		t.Fatalf("Kratos did not call the hook; Kratos log:\n%s", k.Logs())
	}
}

func kratosConfigDir(t *testing.T) string {
	t.Helper()
	root, err := kratostest.RepoRoot()
	require.NoError(t, err)
	return filepath.Join(root, "k8s", "base", "kratos")
}

func receive(t *testing.T, k *kratostest.Kratos, calls <-chan identity.User) identity.User {
	t.Helper()
	select {
	case u := <-calls:
		return u
	case <-time.After(15 * time.Second):
		t.Fatalf("Kratos did not call the hook; Kratos log:\n%s", k.Logs())
		return identity.User{}
	}
}

func newStubKratos(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newSlowKratos(t *testing.T, delay time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
