package apibench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
)

// The store's statements (server/internal/store/accounts.go,
// HandleCreateAccount and HandleGetAccount) with accountColumns spelled
// out. TestBaselineSQLIsTheStores fails when the store's change.
const (
	insertAccountSQL = `INSERT INTO accounts (owner_id, name) VALUES ($1, $2) RETURNING id, owner_id, name, created_at, updated_at`
	selectAccountSQL = `SELECT id, owner_id, name, created_at, updated_at FROM accounts WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL`
)

// Baseline is the least code that answers CreateAccount and GetAccount:
// the request's fields straight into the store's SQL through a pgx pool,
// the row straight into the response. No interceptors (recovery, logging,
// metrics, deadline, authentication, validation), no messenger, no
// middleware; every request acts for one fixed owner.
type Baseline struct {
	groundworkv1.UnimplementedAccountServiceServer
	pool  *pgxpool.Pool
	owner string
}

var _ groundworkv1.AccountServiceServer = (*Baseline)(nil)

// NewBaseline returns the baseline service over pool, acting for owner (a
// users.id).
func NewBaseline(pool *pgxpool.Pool, owner string) *Baseline {
	return &Baseline{pool: pool, owner: owner}
}

// CreateAccount inserts the account.
func (b *Baseline) CreateAccount(ctx context.Context, req *groundworkv1.CreateAccountRequest) (*groundworkv1.CreateAccountResponse, error) {
	acc, err := scanAccount(b.pool.QueryRow(ctx, insertAccountSQL, b.owner, req.GetName()))
	if err != nil {
		return nil, statusOf(err)
	}
	return &groundworkv1.CreateAccountResponse{Account: acc}, nil
}

// GetAccount reads the account.
func (b *Baseline) GetAccount(ctx context.Context, req *groundworkv1.GetAccountRequest) (*groundworkv1.GetAccountResponse, error) {
	acc, err := scanAccount(b.pool.QueryRow(ctx, selectAccountSQL, req.GetId(), b.owner))
	if err != nil {
		return nil, statusOf(err)
	}
	return &groundworkv1.GetAccountResponse{Account: acc}, nil
}

// scanAccount reads a row as the store does (string IDs, time.Time
// timestamps) and converts it as the API layer does.
func scanAccount(row pgx.Row) (*groundworkv1.Account, error) {
	var a groundworkv1.Account
	var created, updated time.Time
	if err := row.Scan(&a.Id, &a.OwnerId, &a.Name, &created, &updated); err != nil {
		return nil, err
	}
	a.CreateTime, a.UpdateTime = timestamppb.New(created), timestamppb.New(updated)
	return &a, nil
}

// statusOf is the baseline's whole error mapping.
func statusOf(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return status.Error(codes.NotFound, "account not found")
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		return status.Error(codes.AlreadyExists, "an account with this name exists")
	default:
		return status.Error(codes.Internal, err.Error())
	}
}

// BaselineConfig configures the baseline process.
type BaselineConfig struct {
	Listen      string // host:port; port 0 picks a free one
	DatabaseURL string // certificate URL of the server role
	TLSCert     string // the gRPC server's certificate (server-grpc-tls)
	TLSKey      string
	ClientCA    string // CA that client certificates must chain to
	Owner       string // users.id every request acts for
}

func (c BaselineConfig) validate() error {
	var problems []string
	for _, f := range []struct{ flag, value string }{
		{"--listen", c.Listen}, {"--database-url", c.DatabaseURL}, {"--tls-cert", c.TLSCert},
		{"--tls-key", c.TLSKey}, {"--client-ca", c.ClientCA}, {"--owner", c.Owner},
	} {
		if f.value == "" {
			problems = append(problems, f.flag+": required")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// ServerTLS is the gRPC server's TLS configuration as the real server's:
// TLS 1.3 only, a client certificate from clientCA required.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	pool, err := loadCAPool(clientCAFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, nil
}

// ClientTLS is a gRPC client's TLS configuration: TLS 1.3, the client
// certificate, and serverCAFile to verify the server.
func ClientTLS(certFile, keyFile, serverCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load client certificate: %w", err)
	}
	pool, err := loadCAPool(serverCAFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, RootCAs: pool}, nil
}

func loadCAPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA bundle %s: no PEM certificate", file)
	}
	return pool, nil
}

// ListeningPrefix starts the line the baseline process prints once it
// accepts connections: "listening on 127.0.0.1:PORT".
const ListeningPrefix = "listening on "

// BaselineMain is the baseline process (cmd/apibench-baseline): it serves
// until ctx ends, then stops gracefully. It returns the exit code: 0 after a
// clean stop, 1 when serving failed, 2 for bad flags.
func BaselineMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg BaselineConfig
	fs := flag.NewFlagSet("apibench-baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:0", "listen address")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "certificate URL of the server role")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "gRPC server certificate")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "gRPC server key")
	fs.StringVar(&cfg.ClientCA, "client-ca", "", "CA bundle client certificates must chain to")
	fs.StringVar(&cfg.Owner, "owner", "", "users.id every request acts for")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(stderr, "apibench-baseline:", err)
		return 2
	}
	if err := serveBaseline(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "apibench-baseline:", err)
		return 1
	}
	return 0
}

func serveBaseline(ctx context.Context, cfg BaselineConfig, stdout io.Writer) error {
	creds, err := ServerTLS(cfg.TLSCert, cfg.TLSKey, cfg.ClientCA)
	if err != nil {
		return err
	}
	// The server's pool settings: dbconn.PoolConfig's, which is what
	// server/internal/dbpool starts from and keeps.
	pool, err := dbconn.Connect(ctx, cfg.DatabaseURL, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(creds)))
	groundworkv1.RegisterAccountServiceServer(srv, NewBaseline(pool, cfg.Owner))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	fmt.Fprintln(stdout, ListeningPrefix+l.Addr().String())
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		srv.GracefulStop()
		return nil
	}
}
