package apibench

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testOwner = "0b6f3c2e-0000-4000-8000-00000000000a"

type baselineBundle struct {
	client groundworkv1.AccountServiceClient
	certs  string // the server-ca tree
	addr   string
	db     *pgtest.DB
}

// setupBaseline runs BaselineMain against a fresh database with a users row
// for testOwner and returns a client with the developers' certificate.
func setupBaseline(t *testing.T) *baselineBundle {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	_, err := db.Pool.Exec(ctx, "INSERT INTO users (id, email) VALUES ($1, 'bench@example.com')", testOwner)
	require.NoError(t, err)
	certs := t.TempDir()
	_, err = pki.Ensure(certs, pki.ServerTree(), pki.Options{})
	require.NoError(t, err)
	srv := pki.SecretPaths(certs, pki.ServerGRPCSecret)

	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	exited := make(chan int, 1)
	go func() {
		code := BaselineMain(ctx, []string{
			"--database-url", db.URL, "--tls-cert", srv.Cert, "--tls-key", srv.Key, "--client-ca", srv.CA, "--owner", testOwner,
		}, pw, io.Discard)
		pw.Close()
		exited <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "BaselineMain ended before it served")
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), ListeningPrefix)
	require.True(t, ok, "first line %q", line)
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-exited:
			require.Equal(t, 0, code, "a stop by its context is a clean exit")
		case <-time.After(10 * time.Second):
			t.Error("BaselineMain did not stop")
		}
	})

	dev := pki.SecretPaths(certs, pki.DevClientSecret)
	tlsCfg, err := ClientTLS(dev.Cert, dev.Key, srv.CA)
	require.NoError(t, err)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &baselineBundle{client: groundworkv1.NewAccountServiceClient(conn), certs: certs, addr: addr, db: db}
}

func TestBaselineCreatesAndGetsAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupBaseline(t)

	created, err := b.client.CreateAccount(ctx, &groundworkv1.CreateAccountRequest{Name: "Bench"})
	require.NoError(t, err)
	acc := created.GetAccount()
	require.NotEmpty(t, acc.GetId())
	require.Equal(t, testOwner, acc.GetOwnerId())
	require.Equal(t, "Bench", acc.GetName())
	require.True(t, acc.GetCreateTime().IsValid())
	require.True(t, proto.Equal(acc.GetCreateTime(), acc.GetUpdateTime()))

	got, err := b.client.GetAccount(ctx, &groundworkv1.GetAccountRequest{Id: acc.GetId()})
	require.NoError(t, err)
	require.True(t, proto.Equal(acc, got.GetAccount()), "got %v, created %v", got.GetAccount(), acc)

	_, err = b.client.CreateAccount(ctx, &groundworkv1.CreateAccountRequest{Name: "BENCH"})
	require.Equal(t, codes.AlreadyExists, status.Code(err), "the store's unique index ignores case: %v", err)

	_, err = b.client.GetAccount(ctx, &groundworkv1.GetAccountRequest{Id: "0b6f3c2e-0000-4000-8000-0000000000ff"})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)

	var rows int
	require.NoError(t, b.db.Pool.QueryRow(ctx, "SELECT count(*) FROM accounts WHERE owner_id = $1", testOwner).Scan(&rows))
	require.Equal(t, 1, rows)
}

func TestBaselineRequiresAClientCertificate(t *testing.T) {
	t.Parallel()
	b := setupBaseline(t)
	srv := pki.SecretPaths(b.certs, pki.ServerGRPCSecret)
	pool, err := loadCAPool(srv.CA)
	require.NoError(t, err)
	conn, err := grpc.NewClient(b.addr, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = groundworkv1.NewAccountServiceClient(conn).GetAccount(ctx, &groundworkv1.GetAccountRequest{Id: testOwner})
	require.Equal(t, codes.Unavailable, status.Code(err), "the handshake fails without a client certificate: %v", err)
}

func TestBaselineMainNamesMissingFlags(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	code := BaselineMain(context.Background(), []string{"--listen", ""}, io.Discard, &stderr)
	require.Equal(t, 2, code)
	require.Equal(t, "apibench-baseline: --listen: required; --database-url: required; --tls-cert: required; "+
		"--tls-key: required; --client-ca: required; --owner: required\n", stderr.String())

	stderr.Reset()
	require.Equal(t, 2, BaselineMain(context.Background(), []string{"--no-such-flag"}, io.Discard, &stderr))
	require.Contains(t, stderr.String(), "flag provided but not defined: -no-such-flag")
}

// TestBaselineSQLIsTheStores keeps the baseline's statements those of the
// store: a change there must be made here too, or the ratio compares
// different SQL.
func TestBaselineSQLIsTheStores(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "server", "internal", "store", "accounts.go"))
	require.NoError(t, err)
	src := string(b)
	const cols = "id, owner_id, name, created_at, updated_at"
	require.Contains(t, src, "const accountColumns = `"+cols+"`")
	src = strings.ReplaceAll(src, "`+accountColumns+`", cols)
	src = strings.ReplaceAll(src, "RETURNING `+accountColumns,", "RETURNING "+cols+"`,")
	require.Contains(t, src, "`"+insertAccountSQL+"`", "HandleCreateAccount's INSERT")
	require.Contains(t, src, "`"+selectAccountSQL+"`", "HandleGetAccount's SELECT")
}
