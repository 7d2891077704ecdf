package e2e_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/jobs"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
	"github.com/groundwork-dev/groundwork/server/internal/requesttest"
)

// worker is a running `server worker` on the server's database.
type worker struct {
	opsURL string
	log    *serverLog
}

// startWorker runs the real `server worker` (cli.Run) next to s, on the
// same database as the same role, with Kratos's admin API of k. At the
// test's end it must stop cleanly without having logged an error.
func startWorker(t *testing.T, s *server, k *kratostest.Kratos) *worker {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL": s.db.URL, "OPS_ADDR": "127.0.0.1:0",
		"KRATOS_ADMIN_URL": k.AdminURL, "RECONCILE_USERS_SCHEDULE": "@every 2s",
		"SHUTDOWN_TIMEOUT": "10s", "LOG_FORMAT": "json",
	}
	log := newProcessLog("working")
	rec := runCLI(t, "worker", env, log)
	return &worker{opsURL: "http://" + rec["ops"].(string), log: log}
}

// TestAccountExports runs exports end to end, over gRPC and JSON: the
// server records the request and enqueues the job in one transaction, the
// worker process writes the document, the client polls and downloads it.
func TestAccountExports(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	s := startServer(t, serverOptions{kratos: k})
	w := startWorker(t, s, k)

	code, body := get(t, w.opsURL+"/readyz")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "[+]database ok\n[+]queue ok\nready\n", body)
	code, body = get(t, w.opsURL+"/healthz")
	require.Equal(t, http.StatusOK, code, body)

	for _, kd := range kinds {
		if kd.name != "gRPC x-session-token" && kd.name != "JSON browser cookie" && kd.name != "JSON X-Session-Token" {
			continue
		}
		t.Run(kd.name, func(t *testing.T) {
			t.Parallel()
			me, u, ss := kd.signUp(t, s, k)
			other, _, _ := kd.signUp(t, s, k)
			exportScenario(t, s, me, u, ss.IdentityID, other)
		})
	}
	t.Run("periodic reconciliation", func(t *testing.T) {
		t.Parallel()
		require.Eventually(t, func() bool {
			for _, r := range w.log.records() {
				if r["msg"] == "reconciled users with Kratos" {
					return true
				}
			}
			return false
		}, 20*time.Second, 100*time.Millisecond, "the leader enqueues the reconciliation on its schedule and it runs against Kratos")
	})
	t.Run("metrics", func(t *testing.T) {
		t.Parallel()
		code, body := get(t, w.opsURL+"/metrics")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "pgqueue_queue_depth")
		require.Contains(t, body, "pgxpool_acquired_conns")
	})
}

func exportScenario(t *testing.T, s *server, me client, u kratostest.User, id string, other client) {
	t.Helper()
	ctx := t.Context()
	acc, err := me.accounts.CreateAccount(ctx, &groundworkv1.CreateAccountRequest{Name: "Exported"})
	require.NoError(t, err)

	created, err := me.accounts.CreateAccountExport(ctx, &groundworkv1.CreateAccountExportRequest{AccountId: acc.GetAccount().GetId()})
	require.NoError(t, err)
	e := created.GetExport()
	require.Regexp(t, uuidPattern, e.GetId())
	require.Equal(t, acc.GetAccount().GetId(), e.GetAccountId())
	require.Equal(t, groundworkv1.AccountExport_STATE_PENDING, e.GetState())

	var done *groundworkv1.AccountExport
	require.Eventually(t, func() bool {
		resp, err := me.accounts.GetAccountExport(ctx, &groundworkv1.GetAccountExportRequest{AccountId: e.GetAccountId(), Id: e.GetId()})
		require.NoError(t, err)
		done = resp.GetExport()
		require.NotEqual(t, groundworkv1.AccountExport_STATE_FAILED, done.GetState(), done.GetError())
		return done.GetState() == groundworkv1.AccountExport_STATE_SUCCEEDED
	}, 20*time.Second, 50*time.Millisecond, "the worker finishes the export")
	require.NotNil(t, done.GetCompleteTime())

	dl, err := me.accounts.DownloadAccountExport(ctx, &groundworkv1.DownloadAccountExportRequest{AccountId: e.GetAccountId(), Id: e.GetId()})
	require.NoError(t, err)
	require.Equal(t, "account-"+e.GetAccountId()+"-export.json", dl.GetFilename())
	require.Equal(t, "application/json", dl.GetContentType())
	require.True(t, json.Valid(dl.GetContent()), "%s", dl.GetContent())
	var doc export.Document
	require.NoError(t, json.Unmarshal(dl.GetContent(), &doc))
	require.Equal(t, export.Format, doc.Format)
	require.Equal(t, e.GetId(), doc.ExportID)
	require.Equal(t, export.DocumentAccount{
		ID: acc.GetAccount().GetId(), Name: "Exported",
		CreateTime: acc.GetAccount().GetCreateTime().AsTime(), UpdateTime: acc.GetAccount().GetUpdateTime().AsTime(),
	}, doc.Account)
	require.Equal(t, export.DocumentOwner{ID: id, Email: u.Email, DisplayName: u.Name}, doc.Owner)

	// Another user sees none of it.
	_, err = other.accounts.CreateAccountExport(ctx, &groundworkv1.CreateAccountExportRequest{AccountId: e.GetAccountId()})
	requireCode(t, err, codes.NotFound, "CreateAccountExport of another user's account")
	_, err = other.accounts.GetAccountExport(ctx, &groundworkv1.GetAccountExportRequest{AccountId: e.GetAccountId(), Id: e.GetId()})
	requireCode(t, err, codes.NotFound, "GetAccountExport of another user's export")
	_, err = other.accounts.DownloadAccountExport(ctx, &groundworkv1.DownloadAccountExportRequest{AccountId: e.GetAccountId(), Id: e.GetId()})
	requireCode(t, err, codes.NotFound, "DownloadAccountExport of another user's export")

	// Bad input, each field.
	_, err = me.accounts.CreateAccountExport(ctx, &groundworkv1.CreateAccountExportRequest{AccountId: "acc-1"})
	requireInvalid(t, err, "account_id")
	_, err = me.accounts.GetAccountExport(ctx, &groundworkv1.GetAccountExportRequest{AccountId: "acc-1", Id: e.GetId()})
	requireInvalid(t, err, "account_id")
	_, err = me.accounts.GetAccountExport(ctx, &groundworkv1.GetAccountExportRequest{AccountId: e.GetAccountId(), Id: e.GetId()[1:]})
	requireInvalid(t, err, "id")
	_, err = me.accounts.DownloadAccountExport(ctx, &groundworkv1.DownloadAccountExportRequest{AccountId: e.GetAccountId(), Id: "latest"})
	requireInvalid(t, err, "id")

	// An export no worker has finished: its download is refused, saying why.
	var pending string
	require.NoError(t, s.db.Pool.QueryRow(ctx,
		`INSERT INTO account_exports (account_id, owner_id) VALUES ($1, $2) RETURNING id`, e.GetAccountId(), id).Scan(&pending))
	_, err = me.accounts.DownloadAccountExport(ctx, &groundworkv1.DownloadAccountExportRequest{AccountId: e.GetAccountId(), Id: pending})
	st := requireCode(t, err, codes.FailedPrecondition, "download of a pending export")
	require.Contains(t, st.Message(), "the export is pending")

	// Deleting the account hides its exports and schedules its purge.
	_, err = me.accounts.DeleteAccount(ctx, &groundworkv1.DeleteAccountRequest{Id: e.GetAccountId()})
	require.NoError(t, err)
	_, err = me.accounts.GetAccountExport(ctx, &groundworkv1.GetAccountExportRequest{AccountId: e.GetAccountId(), Id: e.GetId()})
	requireCode(t, err, codes.NotFound, "an export of a deleted account")
	var scheduledIn time.Duration
	var seconds float64
	require.NoError(t, s.db.Pool.QueryRow(ctx,
		`SELECT extract(epoch FROM j.scheduled_at - a.deleted_at) FROM river_job j JOIN accounts a ON a.id::text = j.args->>'account_id'
		  WHERE j.kind = $1 AND a.id = $2 AND j.state = 'scheduled'`, jobs.KindPurge, e.GetAccountId()).Scan(&seconds))
	scheduledIn = time.Duration(seconds * float64(time.Second))
	require.Equal(t, 7*24*time.Hour, scheduledIn, "the purge waits out the default grace period")
}

// TestRiverUIOnTheOpsPort: River UI is on the server's ops port for the
// operators named in RIVERUI_OPERATORS, by Kratos session (token or the
// browser's cookie), and for nobody else.
func TestRiverUIOnTheOpsPort(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	op := kratostest.NewUser()
	opSession := k.RegisterBrowser(t, op.Email, op.Name, op.Password)
	opToken := k.Login(t, op.Email, op.Password)
	_, userSession := registerAPI(t, k)
	s := startServer(t, serverOptions{kratos: k, operators: []string{opSession.IdentityID}})

	call := func(path string, header map[string]string) (int, string) {
		t.Helper()
		return requesttest.Get(t, s.opsURL+path, header)
	}
	for _, path := range []string{"/riverui/", "/riverui/api/jobs?state=available"} {
		code, body := call(path, nil)
		require.Equal(t, http.StatusUnauthorized, code, "no session: %s", body)
		code, body = call(path, map[string]string{"X-Session-Token": "not-a-session"})
		require.Equal(t, http.StatusUnauthorized, code, "a bad session: %s", body)
		code, body = call(path, map[string]string{"X-Session-Token": userSession.Token})
		require.Equal(t, http.StatusForbidden, code, "a user who is no operator: %s", body)

		code, body = call(path, map[string]string{"X-Session-Token": opToken.Token})
		require.Equal(t, http.StatusOK, code, "the operator's token: %s", body)
		code, body = call(path, map[string]string{"Cookie": opSession.Cookie.Name + "=" + opSession.Cookie.Value})
		require.Equal(t, http.StatusOK, code, "the operator's browser: %s", body)
		if strings.HasSuffix(path, "/") {
			require.Contains(t, body, "<!doctype html>")
		}
	}
}
