// Package devbench measures the local stack: dev:up from nothing and warm,
// and a full migrator up on an empty database, each next to a baseline
// measured in the same run on the same machine, printed as ratios.
//
// Baselines: a bare `initdb` + `pg_ctl start` (what any local PostgreSQL
// costs) for the cold start; one certificate login and SELECT 1 for the
// warm rerun; the same migration SQL executed directly, without
// golang-migrate's and River's bookkeeping, for migrator up.
package devbench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/groundwork-dev/groundwork/internal/dev/devstack"
	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
	"github.com/groundwork-dev/groundwork/internal/shared/machine"
	"github.com/groundwork-dev/groundwork/internal/shared/pgcluster"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
	"github.com/groundwork-dev/groundwork/migrator/migrations"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

// Reps is how many times each measurement runs; the median is reported.
const Reps = 3

// Result is one measured pair.
type Result struct {
	Name               string
	Ours, Baseline     time.Duration
	Target             time.Duration
	OursDesc, BaseDesc string
}

// Run measures and prints a table.
func Run(ctx context.Context, out io.Writer) error {
	if err := sysdeps.New(out).Ensure(ctx, sysdeps.PostgreSQL()); err != nil {
		return err
	}
	var results []Result
	cold, warm, err := measureUp(ctx)
	if err != nil {
		return err
	}
	results = append(results, cold, warm)
	mig, err := measureMigrate(ctx)
	if err != nil {
		return err
	}
	results = append(results, mig)
	Print(out, results)
	return nil
}

// Print writes the results and the machine.
func Print(out io.Writer, results []Result) {
	fmt.Fprintf(out, "machine: %d CPUs, %s/%s, %s; median of %d runs\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, machine.CPUModel(), Reps)
	fmt.Fprintf(out, "%-28s %10s %10s %7s %8s  %s\n", "measurement", "ours", "baseline", "ratio", "target", "baseline is")
	for _, r := range results {
		fmt.Fprintf(out, "%-28s %10s %10s %6.2fx %8s  %s\n", r.Name, r.Ours.Round(time.Millisecond), r.Baseline.Round(time.Millisecond),
			float64(r.Ours)/float64(r.Baseline), "≤ "+r.Target.String(), r.BaseDesc)
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// tempRoot is a throwaway directory the stack keeps its state in.
func tempRoot() (string, error) {
	dir, err := os.MkdirTemp("", "devbench-")
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o711)
}

func measureUp(ctx context.Context) (Result, Result, error) {
	cold := Result{Name: "dev:up from nothing", Target: 10 * time.Second, BaseDesc: "initdb + pg_ctl start"}
	warm := Result{Name: "dev:up warm rerun", Target: time.Second, BaseDesc: "one TLS certificate login + SELECT 1"}
	var coldOurs, coldBase, warmOurs, warmBase []time.Duration
	for i := 0; i < Reps; i++ {
		root, err := tempRoot()
		if err != nil {
			return cold, warm, err
		}
		cfg, err := devstack.PrivateConfig(ctx, ".", root)
		if err != nil {
			return cold, warm, err
		}
		s := devstack.New(cfg, io.Discard, sysdeps.New(io.Discard))
		t0 := time.Now()
		if err := s.Up(ctx); err != nil {
			return cold, warm, fmt.Errorf("cold dev:up: %w", err)
		}
		coldOurs = append(coldOurs, time.Since(t0))
		t0 = time.Now()
		if err := s.Up(ctx); err != nil {
			return cold, warm, fmt.Errorf("warm dev:up: %w", err)
		}
		warmOurs = append(warmOurs, time.Since(t0))
		t0 = time.Now()
		pool, err := dbconn.Connect(ctx, cfg.DatabaseURL(devstack.RoleServer, devstack.DBApp), nil)
		if err != nil {
			return cold, warm, err
		}
		if _, err := pool.Exec(ctx, "SELECT 1"); err != nil {
			return cold, warm, err
		}
		pool.Close()
		warmBase = append(warmBase, time.Since(t0))
		if err := s.Reset(ctx); err != nil {
			return cold, warm, err
		}
		_ = os.RemoveAll(root)

		d, err := bareCluster(ctx)
		if err != nil {
			return cold, warm, fmt.Errorf("baseline cluster: %w", err)
		}
		coldBase = append(coldBase, d)
	}
	cold.Ours, cold.Baseline = median(coldOurs), median(coldBase)
	warm.Ours, warm.Baseline = median(warmOurs), median(warmBase)
	return cold, warm, nil
}

// bareCluster times initdb and pg_ctl start of a cluster with default
// settings, then removes it.
func bareCluster(ctx context.Context) (time.Duration, error) {
	root, err := tempRoot()
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(root)
	bin, err := pgcluster.FindBinaries()
	if err != nil {
		return 0, err
	}
	port, err := freeport.Pick(ctx)
	if err != nil {
		return 0, err
	}
	c, err := pgcluster.New(pgcluster.Config{
		Bin: bin, DataDir: filepath.Join(root, "data"), SocketDir: filepath.Join(root, "run"),
		LogFile: filepath.Join(root, "pg.log"), Port: port,
	})
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := c.Init(ctx); err != nil {
		return 0, err
	}
	// Only the port and socket, so that it can start: no TLS, no rules.
	conf := fmt.Sprintf("port = %d\nunix_socket_directories = '%s'\nlisten_addresses = '127.0.0.1'\n", port, filepath.Join(root, "run"))
	f, err := os.OpenFile(filepath.Join(root, "data", "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	_, werr := f.WriteString(conf)
	f.Close()
	if werr != nil {
		return 0, werr
	}
	if err := c.Start(ctx); err != nil {
		return 0, err
	}
	d := time.Since(t0)
	return d, c.Stop(ctx)
}

func measureMigrate(ctx context.Context) (Result, error) {
	res := Result{Name: "migrator up, empty database", Target: 2 * time.Second, BaseDesc: "the same SQL run directly, no bookkeeping"}
	root, err := tempRoot()
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(root)
	cfg, err := devstack.PrivateConfig(ctx, ".", root)
	if err != nil {
		return res, err
	}
	s := devstack.New(cfg, io.Discard, sysdeps.New(io.Discard))
	if err := s.Up(ctx); err != nil {
		return res, err
	}
	defer func() { _ = s.Reset(context.Background()) }()
	admin, err := s.Superuser(ctx)
	if err != nil {
		return res, err
	}
	defer admin.Close(ctx)
	var ours, base []time.Duration
	for i := 0; i < Reps; i++ {
		for _, ourRun := range []bool{true, false} {
			// A fresh, empty app database each time: pg_hba admits the
			// roles to that name only.
			if _, err := admin.Exec(ctx, "DROP DATABASE "+devstack.DBApp+" WITH (FORCE)"); err != nil {
				return res, err
			}
			db := pgcluster.Database{Name: devstack.DBApp, Owner: devstack.RoleMigrator, Connect: []string{devstack.RoleServer}}
			if err := pgcluster.CreateDatabase(ctx, admin, db, ""); err != nil {
				return res, err
			}
			d, err := timeMigration(ctx, cfg.DatabaseURL(devstack.RoleMigrator, devstack.DBApp), ourRun)
			if err != nil {
				return res, err
			}
			if ourRun {
				ours = append(ours, d)
			} else {
				base = append(base, d)
			}
		}
	}
	res.Ours, res.Baseline = median(ours), median(base)
	return res, nil
}

// timeMigration times a full migration of an empty database, from opening
// the connection to the last statement.
func timeMigration(ctx context.Context, url string, ours bool) (time.Duration, error) {
	t0 := time.Now()
	if ours {
		m, err := schema.Open(ctx, url, schema.Options{ServerRole: devstack.RoleServer})
		if err != nil {
			return 0, err
		}
		defer m.Close()
		if _, err := m.Up(ctx); err != nil {
			return 0, err
		}
		return time.Since(t0), nil
	}
	cfg, err := dbconn.ConnConfig(url)
	if err != nil {
		return 0, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	rm, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return 0, err
	}
	var sqls []string
	for _, v := range rm.AllVersions() {
		// River's files name their schema through a template; empty means
		// the search path, as rivermigrate does without a configured schema.
		sqls = append(sqls, strings.ReplaceAll(v.SQLUp, "/* TEMPLATE: schema */", ""))
	}
	files, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil {
		return 0, err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := fs.ReadFile(migrations.FS, f)
		if err != nil {
			return 0, err
		}
		sqls = append(sqls, string(b))
	}
	for _, q := range sqls {
		if _, err := conn.Exec(ctx, q); err != nil {
			return 0, fmt.Errorf("baseline migration: %w", err)
		}
	}
	return time.Since(t0), nil
}
