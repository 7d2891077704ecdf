package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/metadata"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/api"
	"github.com/groundwork-dev/groundwork/server/internal/auth"
	"github.com/groundwork-dev/groundwork/server/internal/config"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/jobs"
	"github.com/groundwork-dev/groundwork/server/internal/jobsui"
	"github.com/groundwork-dev/groundwork/server/internal/messenger"
	"github.com/groundwork-dev/groundwork/server/internal/ops"
	"github.com/groundwork-dev/groundwork/server/internal/policy"
	"github.com/groundwork-dev/groundwork/server/internal/store"
	"github.com/groundwork-dev/groundwork/server/internal/transport"
)

// Deps are what BuildAPI may use to build the API.
type Deps struct {
	Config     config.Config
	Pool       *pgxpool.Pool // connected as the server role
	Logger     *slog.Logger
	Registerer prometheus.Registerer // for metrics of the API's own
}

// API is what serve exposes and how callers are authenticated.
type API struct {
	Services      transport.Services
	Authenticator transport.Authenticator
	// Checks are readiness checks besides the database's (Kratos).
	Checks []ops.Checker
	// OpsHandlers are routes for the ops port (http.ServeMux patterns):
	// River UI, Kratos's web hook.
	OpsHandlers map[string]http.Handler
	// Close, if set, runs after the servers have stopped and before the
	// database pool closes.
	Close func()
}

// BuildFunc builds the API; serve calls it once, after the database pool
// is open.
type BuildFunc func(ctx context.Context, d Deps) (API, error)

// BuildAPI is the construction of the real services and authenticator:
// the one place where the request path (api, messenger, policy, store),
// the job queue (jobs, River UI) and Kratos authentication (auth) meet the
// transport. Tests of this package
// pass their own BuildFunc.
func BuildAPI(ctx context.Context, d Deps) (API, error) {
	// The queue client only enqueues here (no queues to work): the export
	// job with each export, the purge job with each deletion, both in the
	// transaction of the write. The worker process works them.
	reg, err := jobs.NewRegistry(jobs.Deps{DB: d.Pool, Logger: d.Logger})
	if err != nil {
		return API{}, err
	}
	q, err := queue.New(queue.Config{Pool: d.Pool, Registry: reg, Logger: d.Logger, Metrics: d.Registerer})
	if err != nil {
		return API{}, err
	}

	users := store.NewUsers(d.Pool)
	accounts := store.NewAccounts(d.Pool, store.WithAfterDelete(jobs.AfterDelete(q, d.Config.AccountPurgeAfter)))
	exports := store.NewExports(d.Pool, store.WithAfterCreateExport(jobs.AfterCreateExport(q)))
	m := messenger.New(&policy.Validator{}, &policy.Authorizer{}, accounts, users, exports)

	verifier, err := auth.NewVerifier(d.Config.KratosPublicURL,
		auth.WithCacheTTL(d.Config.SessionCacheTTL),
		auth.WithGracePeriod(d.Config.SessionGrace),
		auth.WithOnAuthenticated(users.Upsert),
		auth.WithMetrics(d.Registerer),
	)
	if err != nil {
		return API{}, fmt.Errorf("--kratos-public-url (KRATOS_PUBLIC_URL): %w", err)
	}
	authn := kratosAuthenticator{verifier}
	ui, err := jobsui.New(jobsui.Config{Queue: q, Authenticator: authn, Operators: d.Config.RiverUIOperators, Logger: d.Logger})
	if err != nil {
		return API{}, err
	}
	if err := ui.Start(ctx); err != nil {
		return API{}, err
	}
	a := API{
		Services: transport.Services{
			User:    api.NewUsers(m),
			Account: api.NewAccounts(m),
		},
		Authenticator: authn,
		Checks:        []ops.Checker{ops.Check("kratos", verifier.Ready)},
		OpsHandlers:   map[string]http.Handler{jobsui.Prefix + "/": ui},
		Close:         ui.Stop,
	}
	if d.Config.KratosHookKey != "" {
		hook, err := auth.NewHookHandler(d.Config.KratosHookKey, users.Upsert, d.Logger)
		if err != nil {
			ui.Stop()
			return API{}, fmt.Errorf("--kratos-hook-key (KRATOS_HOOK_KEY): %w", err)
		}
		a.OpsHandlers[KratosHookPath] = hook
	}
	return a, nil
}

// KratosHookPath is where the ops port serves Kratos's identity web hook
// (k8s/base/kratos/identity-hook.yml points there).
const KratosHookPath = "/kratos/identity"

// kratosAuthenticator maps the auth package's sentinel to the transport's
// (see transport.Authenticator for the contract).
type kratosAuthenticator struct{ v *auth.Verifier }

func (k kratosAuthenticator) Authenticate(ctx context.Context, md metadata.MD) (identity.User, error) {
	u, err := k.v.Authenticate(ctx, md)
	if errors.Is(err, auth.ErrUnauthenticated) {
		return u, transport.Unauthenticated(err)
	}
	return u, err
}
