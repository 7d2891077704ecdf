package jobsui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/jobs"
	"github.com/groundwork-dev/groundwork/server/internal/jobsui"
	"github.com/groundwork-dev/groundwork/server/internal/requesttest"
	"github.com/groundwork-dev/groundwork/server/internal/transport"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	operator = "6f1f4a0e-8a4b-4c1e-9d3a-0b7c2e5f9a11"
	someone  = "0d9e8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
)

// fakeKratos knows two sessions, by token or cookie value: the operator's
// and someone else's; "down" stands for Kratos being unreachable.
type fakeKratos struct{}

func (fakeKratos) Authenticate(_ context.Context, md metadata.MD) (identity.User, error) {
	var creds []string
	for _, k := range []string{transport.MDSessionToken, transport.MDAuthorization, transport.MDCookie} {
		creds = append(creds, md.Get(k)...)
	}
	for _, c := range creds {
		switch {
		case strings.Contains(c, "op-session"):
			return identity.User{ID: operator}, nil
		case strings.Contains(c, "user-session"):
			return identity.User{ID: someone}, nil
		case strings.Contains(c, "down"):
			return identity.User{}, errors.New("kratos: connection refused")
		}
	}
	return identity.User{}, transport.Unauthenticated(errors.New("the session is invalid or expired"))
}

type testBundle struct {
	srv   *httptest.Server
	log   *bytes.Buffer
	jobID int64
}

func setup(t *testing.T, operators []string) *testBundle {
	t.Helper()
	db := pgtest.New(t)
	reg, err := jobs.NewRegistry(jobs.Deps{DB: db.Pool})
	require.NoError(t, err)
	q, err := queue.New(queue.Config{Pool: db.Pool, Registry: reg})
	require.NoError(t, err)
	job, err := q.Enqueue(t.Context(), jobs.ExportArgs{ExportID: operator}, nil)
	require.NoError(t, err)

	b := &testBundle{log: &bytes.Buffer{}, jobID: job.ID}
	h, err := jobsui.New(jobsui.Config{Queue: q, Authenticator: fakeKratos{}, Operators: operators, Logger: slog.New(slog.NewJSONHandler(b.log, nil))})
	require.NoError(t, err)
	require.NoError(t, h.Start(t.Context()))
	t.Cleanup(h.Stop)
	mux := http.NewServeMux()
	mux.Handle(jobsui.Prefix+"/", h)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *testBundle) do(t *testing.T, method, path string, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	resp := requesttest.Do(t, method, b.srv.URL+path, body, header)
	return resp.StatusCode, resp.Header, string(resp.Body)
}

func TestOnlyOperatorsGetRiverUI(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{someone + "x", operator})

	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
		body   string
	}{
		{"no credentials", nil, http.StatusUnauthorized, "River UI needs a Kratos session of an operator"},
		{"an invalid session", map[string]string{"X-Session-Token": "stolen"}, http.StatusUnauthorized, "the session is invalid or expired"},
		{"someone else's session", map[string]string{"X-Session-Token": "user-session"}, http.StatusForbidden, "River UI is for operators"},
		{"someone else's cookie", map[string]string{"Cookie": "ory_kratos_session=user-session"}, http.StatusForbidden, "River UI is for operators"},
		{"Kratos unreachable", map[string]string{"Authorization": "Bearer down"}, http.StatusServiceUnavailable, "authentication is unavailable"},
	} {
		for _, path := range []string{"/riverui/", "/riverui/api/jobs?state=available", "/riverui/assets/nope.js"} {
			status, hdr, body := b.do(t, http.MethodGet, path, "", tc.header)
			assert.Equal(t, tc.status, status, "%s: %s", tc.name, path)
			assert.Contains(t, body, tc.body, "%s: %s", tc.name, path)
			assert.NotContains(t, body, "export_id", "%s: %s: no job data", tc.name, path)
			if status == http.StatusUnauthorized {
				assert.Equal(t, `Bearer realm="river-ui"`, hdr.Get("WWW-Authenticate"))
			}
		}
	}
	assert.Contains(t, b.log.String(), `"refused":"River UI is for operators`)
	assert.Contains(t, b.log.String(), `"user_id":"`+someone+`"`)

	// The operator, with a token or with the browser's cookie.
	for _, hdr := range []map[string]string{{"X-Session-Token": "op-session"}, {"Cookie": "theme=dark; ory_kratos_session=op-session"}} {
		status, h, body := b.do(t, http.MethodGet, "/riverui/", "", hdr)
		require.Equal(t, http.StatusOK, status, body)
		assert.Contains(t, h.Get("Content-Type"), "text/html")
		assert.Contains(t, body, "<!doctype html>")
		assert.Contains(t, body, "/riverui/", "the page loads its assets under the prefix")

		status, _, body = b.do(t, http.MethodGet, "/riverui/api/jobs?state=available&limit=10", "", hdr)
		require.Equal(t, http.StatusOK, status, body)
		var list struct {
			Data []struct {
				ID   int64  `json:"id"`
				Kind string `json:"kind"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &list), body)
		require.Len(t, list.Data, 1)
		assert.Equal(t, jobs.KindExport, list.Data[0].Kind)
		assert.Equal(t, b.jobID, list.Data[0].ID)
	}
}

func TestNobodyWithoutOperators(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	status, _, body := b.do(t, http.MethodGet, "/riverui/", "", map[string]string{"X-Session-Token": "op-session"})
	assert.Equal(t, http.StatusForbidden, status, body)
}

// TestCookieWritesMustComeFromTheUI: a state-changing request carried by
// the operator's cookie is refused unless its Origin (or Referer) is the
// console's own; with a token it needs none.
func TestCookieWritesMustComeFromTheUI(t *testing.T) {
	t.Parallel()
	b := setup(t, []string{operator})
	cookie := "ory_kratos_session=op-session"
	retry := fmt.Sprintf(`{"ids":["%d"]}`, b.jobID)
	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"no Origin", map[string]string{"Cookie": cookie}, http.StatusForbidden},
		{"another site", map[string]string{"Cookie": cookie, "Origin": "https://evil.example"}, http.StatusForbidden},
		{"another port of the host (the webapp)", map[string]string{"Cookie": cookie, "Origin": "http://127.0.0.1:8080"}, http.StatusForbidden},
		{"a Referer from elsewhere", map[string]string{"Cookie": cookie, "Referer": "http://127.0.0.1:8080/riverui/"}, http.StatusForbidden},
		{"the console's Origin", map[string]string{"Cookie": cookie, "Origin": b.srv.URL, "Content-Type": "application/json"}, http.StatusOK},
		{"the console's Referer", map[string]string{"Cookie": cookie, "Referer": b.srv.URL + "/riverui/jobs", "Content-Type": "application/json"}, http.StatusOK},
		{"a token needs no Origin", map[string]string{"X-Session-Token": "op-session", "Content-Type": "application/json"}, http.StatusOK},
	} {
		status, _, body := b.do(t, http.MethodPost, "/riverui/api/jobs/retry", retry, tc.header)
		assert.Equal(t, tc.status, status, "%s: %s", tc.name, body)
		if tc.status == http.StatusForbidden {
			assert.Contains(t, body, "cross-site request refused", tc.name)
		}
	}
	assert.Contains(t, b.log.String(), `"msg":"river ui","method":"POST","path":"/riverui/api/jobs/retry","user_id":"`+operator+`"`, "operators' actions are logged")
}

func TestNewNeedsItsParts(t *testing.T) {
	t.Parallel()
	_, err := jobsui.New(jobsui.Config{})
	require.Error(t, err)
}
