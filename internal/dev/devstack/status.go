package devstack

import (
	"context"
	"fmt"
	"net"
	"text/tabwriter"
	"time"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

// ComponentStatus is one line of dev:status.
type ComponentStatus struct {
	Name    string
	State   string // running, stopped, ...
	Address string
	Health  string // healthy, or what is wrong
	Healthy bool
}

// Check inspects every component without changing anything.
func (s *Stack) Check(ctx context.Context) []ComponentStatus {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out []ComponentStatus
	for _, c := range s.components {
		out = append(out, c.Check(ctx, s)...)
	}
	return out
}

// Check reports the cluster and, when it answers, the schema's version.
func (postgres) Check(ctx context.Context, s *Stack) []ComponentStatus {
	pg := ComponentStatus{Name: "postgresql", State: "stopped", Address: s.cfg.PGAddr(), Health: "not running (go tool mage dev:up)"}
	mig := ComponentStatus{Name: "migrations", State: "unknown", Address: DBApp, Health: "database not reachable"}
	c, err := s.cluster()
	if err != nil {
		pg.Health = err.Error()
		return []ComponentStatus{pg, mig}
	}
	if pid, running := c.Running(); running {
		pg.State = fmt.Sprintf("running (pid %d)", pid)
		pool, err := dbconn.Connect(ctx, s.cfg.DatabaseURL(RoleServer, DBApp), nil)
		if err != nil {
			pg.Health = err.Error()
		} else {
			pool.Close()
			pg.Health, pg.Healthy = "healthy: role server logs in with its certificate over TLS", true
		}
	} else if conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", s.cfg.PGAddr()); err == nil {
		conn.Close()
		pg.State, pg.Health = "port taken", "another program listens on "+s.cfg.PGAddr()
	}
	if pg.Healthy {
		mig = s.checkMigrations(ctx, mig)
	}
	return []ComponentStatus{pg, mig}
}

func (s *Stack) checkMigrations(ctx context.Context, st ComponentStatus) ComponentStatus {
	m, err := schema.Open(ctx, s.cfg.DatabaseURL(RoleMigrator, DBApp), schema.Options{})
	if err != nil {
		st.Health = err.Error()
		return st
	}
	defer m.Close()
	v, dirty, err := m.Version(ctx)
	if err != nil {
		st.Health = err.Error()
		return st
	}
	latest, err := m.Latest()
	if err != nil {
		st.Health = err.Error()
		return st
	}
	st.State = fmt.Sprintf("version %d of %d", v, latest)
	switch {
	case dirty:
		st.Health = "dirty: run the migrator's force command after checking the schema"
	case v < int(latest):
		st.Health = "pending migrations: go tool mage db:migrate"
	default:
		st.Health, st.Healthy = "healthy", true
	}
	return st
}

// Status prints one line per component and fails when any is unhealthy.
func (s *Stack) Status(ctx context.Context) error {
	sts := s.Check(ctx)
	w := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	unhealthy := 0
	for _, st := range sts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", st.Name, st.State, st.Address, st.Health)
		if !st.Healthy {
			unhealthy++
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if unhealthy > 0 {
		return fmt.Errorf("%d of %d components unhealthy", unhealthy, len(sts))
	}
	return nil
}

// Env prints shell export lines for each role's connection settings.
func (s *Stack) Env() {
	exports := []struct{ name, value string }{
		{"MIGRATOR_DATABASE_URL", s.cfg.DatabaseURL(RoleMigrator, DBApp)},
		{"SERVER_DATABASE_URL", s.cfg.DatabaseURL(RoleServer, DBApp)},
		{"KRATOS_DSN", s.cfg.DatabaseURL(RoleKratos, DBKratos)},
		{"KRATOS_PUBLIC_URL", s.cfg.KratosPublicURL()},
		{"KRATOS_ADMIN_URL", s.cfg.KratosAdminURL()},
		{"GROUNDWORK_WEB_URL", s.cfg.WebOrigin()},
		{"MAILPIT_URL", s.cfg.MailpitURL()},
		{"GROUNDWORK_PKI_DIR", s.cfg.PKIDir()},
	}
	fmt.Fprintln(s.out, "# eval \"$(go tool mage dev:env)\"")
	for _, e := range exports {
		fmt.Fprintf(s.out, "export %s=%s\n", e.name, shellQuote(e.value))
	}
}

func shellQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
			continue
		}
		out += string(r)
	}
	return out + "'"
}
