package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/queue"
)

// ScheduleOff as a schedule turns a periodic job off.
const ScheduleOff = "off"

// Defaults of `server worker`.
const (
	DefaultWorkerOpsAddr          = "127.0.0.1:27001"
	DefaultReconcileUsersSchedule = "*/15 * * * *"
	DefaultMaxWorkers             = 10
	MaxMaxWorkers                 = 1000
)

// Worker is the validated configuration of `server worker`.
type Worker struct {
	OpsAddr string // /healthz /readyz /metrics listen address

	// DatabaseURL connects as the server role with a client certificate,
	// as `server serve` does. It may carry secrets: never print it.
	DatabaseURL string

	// KratosAdminURL is Kratos's admin API, which the user reconciliation
	// job lists identities from.
	KratosAdminURL string
	// ReconcileUsersSchedule is the cron expression of the user
	// reconciliation job (queue.ParseSchedule), or ScheduleOff.
	ReconcileUsersSchedule string

	// MaxWorkers is how many jobs the process runs at once.
	MaxWorkers int

	LogFormat string     // LogText or LogJSON
	LogLevel  slog.Level // debug, info, warn or error

	// ShutdownTimeout bounds the graceful shutdown: the queue stops
	// fetching at once, running jobs get this long (less a moment for the
	// rest) to finish, then their contexts are cancelled.
	ShutdownTimeout time.Duration
}

var (
	sReconcileUsers = setting{"reconcile-users-schedule", "RECONCILE_USERS_SCHEDULE"}
	sMaxWorkers     = setting{"max-workers", "MAX_WORKERS"}
)

// ParseWorker reads the flags of `server worker` as Parse does those of
// `server serve`: flags first, environment variables as the fallback,
// every problem reported at once naming its flag and variable.
func ParseWorker(name string, args []string, getenv func(string) string, output io.Writer) (Worker, error) {
	c := Worker{LogLevel: slog.LevelInfo}
	p := newParser(name)
	p.str(&c.OpsAddr, sOpsAddr, DefaultWorkerOpsAddr, "ops listen address: /healthz /readyz /metrics (keep it private)")
	p.str(&c.DatabaseURL, sDatabaseURL, "", "PostgreSQL URL of the server role, with sslmode=verify-full and certificate files")
	p.str(&c.KratosAdminURL, sKratosAdmin, "http://127.0.0.1:4434", "Ory Kratos admin API URL (the user reconciliation lists identities there)")
	p.str(&c.ReconcileUsersSchedule, sReconcileUsers, DefaultReconcileUsersSchedule, `cron schedule of the user reconciliation job (UTC; e.g. "*/15 * * * *", "@every 1h"), or "off"`)
	p.int(&c.MaxWorkers, sMaxWorkers, DefaultMaxWorkers, "jobs run at once")
	p.str(&c.LogFormat, sLogFormat, LogText, "log format: text or json")
	p.level(&c.LogLevel, sLogLevel)
	p.dur(&c.ShutdownTimeout, sShutdown, 30*time.Second, "time allowed for the graceful shutdown, running jobs included")
	if err := p.parse(args, getenv, output); err != nil {
		return Worker{}, err
	}
	if err := c.validate(); err != nil {
		return Worker{}, err
	}
	return c, nil
}

func (c *Worker) validate() error {
	var errs []error
	bad := func(s setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", s, fmt.Sprintf(format, args...)))
	}
	if err := checkAddr(c.OpsAddr); err != nil {
		bad(sOpsAddr, "%v", err)
	}
	if strings.TrimSpace(c.DatabaseURL) == "" {
		bad(sDatabaseURL, "required: the PostgreSQL URL of the server role (go tool mage dev:env prints SERVER_DATABASE_URL)")
	} else if _, err := dbconn.Params(c.DatabaseURL); err != nil {
		bad(sDatabaseURL, "%v", err)
	}
	if err := checkHTTPURL(c.KratosAdminURL); err != nil {
		bad(sKratosAdmin, "%v", err)
	}
	if c.ReconcileUsersSchedule != ScheduleOff {
		if _, err := queue.ParseSchedule(c.ReconcileUsersSchedule); err != nil {
			bad(sReconcileUsers, "%v (or %q to turn the job off)", err, ScheduleOff)
		}
	}
	if c.MaxWorkers < 1 || c.MaxWorkers > MaxMaxWorkers {
		bad(sMaxWorkers, "must be between 1 and %d, got %d", MaxMaxWorkers, c.MaxWorkers)
	}
	checkLog(bad, c.LogFormat)
	if c.ShutdownTimeout <= 0 {
		bad(sShutdown, "must be positive")
	}
	return errors.Join(errs...)
}

// String describes the configuration without secrets.
func (c Worker) String() string {
	return fmt.Sprintf("ops=%s database=%s", c.OpsAddr, summarize(c.DatabaseURL))
}

// GoString is String, so that %#v does not print the database URL either.
func (c Worker) GoString() string { return "config.Worker{" + c.String() + "}" }

// LogValue logs the configuration without secrets.
func (c Worker) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("ops_addr", c.OpsAddr),
		slog.String("database", summarize(c.DatabaseURL)),
		slog.String("kratos_admin_url", c.KratosAdminURL),
		slog.String("reconcile_users_schedule", c.ReconcileUsersSchedule),
		slog.Int("max_workers", c.MaxWorkers),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
	)
}
