package queuebench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/pgcluster"
	"github.com/groundwork-dev/groundwork/internal/shared/tempcluster"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

const (
	roleMigrator = "migrator"
	roleServer   = "server"
	templateDB   = "queuebench_template"
)

// cluster is the benchmark's private PostgreSQL: a throwaway cluster
// (tempcluster) with the project's certificates, roles and schema, as in
// production (TLS, certificate logins, the server role), durability off as
// in the tests (both sides pay the same, and the machine's disk stays out
// of the ratio).
type cluster struct {
	*tempcluster.Cluster
	n int
}

func startCluster(ctx context.Context) (*cluster, error) {
	tc, err := tempcluster.Start(ctx, tempcluster.Options{
		Roles:    []string{roleMigrator, roleServer},
		Settings: map[string]string{"max_connections": "200", "shared_buffers": "'128MB'"},
		Prefix:   "queuebench-",
	})
	if err != nil {
		return nil, err
	}
	c := &cluster{Cluster: tc}
	if err := c.migrateTemplate(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *cluster) migrateTemplate(ctx context.Context) error {
	if err := c.CreateDatabase(ctx, pgcluster.Database{Name: templateDB, Owner: roleMigrator, Connect: []string{roleServer}}, ""); err != nil {
		return fmt.Errorf("create the template database: %w", err)
	}
	m, err := schema.Open(ctx, c.URL(roleMigrator, templateDB), schema.Options{ServerRole: roleServer})
	if err != nil {
		return fmt.Errorf("open the template database: %w", err)
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("migrate the template database: %w", err)
	}
	return nil
}

// freshPool creates a new database from the migrated template and
// connects to it as the server role: every measurement starts from empty
// tables and indexes. done closes the pool and drops the database, so that
// no run leaves background work (autovacuum) to the next.
func (c *cluster) freshPool(ctx context.Context, maxConns int32) (pool *pgxpool.Pool, done func(), err error) {
	c.n++
	name := fmt.Sprintf("run_%d", c.n)
	if err := c.CreateDatabase(ctx, pgcluster.Database{Name: name, Owner: roleMigrator, Connect: []string{roleServer}}, templateDB); err != nil {
		return nil, nil, fmt.Errorf("create database %s: %w", name, err)
	}
	done = func() {
		if pool != nil {
			pool.Close()
		}
		_ = c.DropDatabase(context.Background(), name)
	}
	pool, err = dbconn.Connect(ctx, c.URL(roleServer, name), func(pc *pgxpool.Config) {
		pc.MaxConns = maxConns
		pc.MinConns = maxConns
	})
	if err != nil {
		done()
		return nil, nil, err
	}
	return pool, done, nil
}

// settle waits (up to 10s) until the server runs nothing but the admin
// session, so that a run does not share the machine with the tail of the
// previous one.
func (c *cluster) settle(ctx context.Context) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var busy int
		err := c.Superuser(func(conn *pgx.Conn) error {
			return conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND (backend_type = 'autovacuum worker' OR state = 'active')`).Scan(&busy)
		})
		if err != nil || busy == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) serverVersion(ctx context.Context) string {
	var v string
	if err := c.Superuser(func(conn *pgx.Conn) error { return conn.QueryRow(ctx, "SHOW server_version").Scan(&v) }); err != nil {
		return "?"
	}
	return v
}
