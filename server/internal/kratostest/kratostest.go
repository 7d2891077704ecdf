// Package kratostest gives a test a real, running Ory Kratos: the binary the
// project pins in tools/kratos, the repository's own configuration
// (k8s/base/kratos/kratos.yml and identity.schema.json), and a database of
// its own in the pgtest PostgreSQL cluster, reached as the kratos role with
// its client certificate, the way Kratos runs in the local stack and in a
// cluster.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		k := kratostest.Shared(t)
//		u := kratostest.NewUser()
//		s := k.Register(t, u.Email, u.Name, u.Password) // s.Token, s.ID, s.IdentityID
//	}
//
// Shared starts one Kratos per test process on first use; tests share it and
// stay independent by registering their own users (NewUser makes unique
// ones). Start runs a dedicated instance with configuration overrides (a short
// session lifespan, a web hook) that is stopped when the test ends, or
// earlier with Stop (to test an unreachable Kratos).
//
// The binary is the local stack's, built once per machine and pinned
// version into the user's cache by internal/shared/toolbuild; the first
// build takes about two minutes and needs the Go module proxy. If it cannot
// be built the test fails and says why: there is no silent skip.
//
// The Kratos database is migrated once per process into a template, and
// every instance gets a copy (a copy takes milliseconds; migrating takes
// seconds). Secrets are random per instance. Each instance runs with --dev
// (no Secure flag on cookies, since it serves plain http on 127.0.0.1),
// without the HaveIBeenPwned lookup (tests run offline) and with bcrypt cost
// 4 instead of 12 (registrations would otherwise dominate the run time).
// Kratos runs in its own process group and receives SIGKILL if the test
// process dies, so a crashed run leaves no Kratos behind.
package kratostest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	ory "github.com/ory/kratos-client-go"

	"github.com/groundwork-dev/groundwork/internal/shared/childproc"
	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
	"github.com/groundwork-dev/groundwork/internal/shared/lastlines"
	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/server/internal/faultproxy"
)

// Options configure a dedicated instance.
type Options struct {
	// Env adds or overrides Kratos configuration through its environment
	// variables (a config key in upper case with "_" for "."), e.g.
	// {"SESSION_LIFESPAN": "3s"}. They are applied last.
	Env map[string]string
	// ConfigFiles are configuration files loaded after kratos.yml (kratos
	// serve -c kratos.yml -c file ...), e.g. identity-hook.yml; a relative
	// path is relative to the repository's Kratos configuration directory.
	ConfigFiles []string
	// DSN, when set, rewrites the URL Kratos connects to its database with:
	// a test that takes Kratos's database away puts a faultproxy between
	// them.
	DSN func(dsn string) string
}

// Kratos is a running Kratos instance.
type Kratos struct {
	// PublicURL and AdminURL are the base URLs of the two APIs, without a
	// trailing slash (e.g. http://127.0.0.1:41234).
	PublicURL, AdminURL string
	// Admin is a client of the admin API (identities, sessions).
	Admin *ory.APIClient
	// Public is a client of the public (frontend) API.
	Public *ory.APIClient

	root string
	proc *childproc.Process
	http *http.Client
}

var (
	sharedMu  sync.Mutex
	shared    *Kratos
	sharedErr error
)

// Shared returns the test process's shared Kratos, starting it on first use.
// It runs until the process exits.
func Shared(t testing.TB) *Kratos {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		db, err := newDatabase(t)
		if err == nil {
			shared, err = start(t, db, Options{})
		}
		sharedErr = err
	}
	if sharedErr != nil {
		t.Fatalf("kratostest: %v", sharedErr)
	}
	return shared
}

// Start runs a dedicated Kratos with opts, stopped and its database dropped
// when the test ends.
func Start(t testing.TB, opts Options) *Kratos {
	t.Helper()
	db, err := newDatabase(t)
	if err != nil {
		t.Fatalf("kratostest: %v", err)
	}
	t.Cleanup(func() { db.drop(t) })
	k, err := start(t, db, opts)
	if err != nil {
		t.Fatalf("kratostest: %v", err)
	}
	t.Cleanup(k.Stop)
	return k
}

// StartWithDatabaseProxy is Start with Kratos's database connection going
// through a faultproxy, which the test takes Down to make Kratos lose its
// database (Kratos then answers every whoami with 401) and Up again.
func StartWithDatabaseProxy(t testing.TB, opts Options) (*Kratos, *faultproxy.Proxy) {
	t.Helper()
	var proxy *faultproxy.Proxy
	opts.DSN = func(dsn string) string {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("kratostest: the Kratos DSN: %v", err)
		}
		proxy = faultproxy.Start(t, u.Host)
		u.Host = proxy.Addr()
		return u.String()
	}
	return Start(t, opts), proxy
}

// Stop stops Kratos (SIGTERM to its process group, SIGKILL after 10 s) and
// waits for it to exit. Stopping twice is harmless. Only for instances from
// Start: other tests use the Shared one.
func (k *Kratos) Stop() { k.proc.Stop(10 * time.Second) }

// Logs returns the last lines Kratos wrote (up to about 256 KiB).
func (k *Kratos) Logs() string { return k.proc.Logs() }

// ConfigDir is the directory of the repository's Kratos configuration.
func (k *Kratos) ConfigDir() string { return configDir(k.root) }

func configDir(root string) string { return filepath.Join(root, "k8s", "base", "kratos") }

// --- databases ----------------------------------------------------------

// prepared is the per-process state: the binary and the migrated template.
type prepared struct {
	root, bin string
	template  string
	external  bool // pgtest uses TEST_DATABASE_URL: one role for everything
}

var (
	prepMu  sync.Mutex
	prep    *prepared
	prepErr error
)

func prepare(t testing.TB) (*prepared, error) {
	t.Helper()
	prepMu.Lock()
	defer prepMu.Unlock()
	if prep != nil || prepErr != nil {
		return prep, prepErr
	}
	prep, prepErr = doPrepare(t)
	return prep, prepErr
}

func doPrepare(t testing.TB) (*prepared, error) {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	bin, err := Binary(context.Background(), root)
	if err != nil {
		return nil, err
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Logf("kratostest: built Ory Kratos into %s in %s", bin, d.Round(time.Second))
	}
	p := &prepared{root: root, bin: bin, external: os.Getenv(pgtest.EnvURL) != ""}
	p.template = "kratostest_tmpl_" + randHex(4)
	if err := p.createDatabase(t, p.template, ""); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dsn := p.dsn(t, p.template)
	cmd := exec.CommandContext(ctx, bin, "migrate", "sql", "-e", "--yes")
	cmd.Env = baseEnv(map[string]string{"DSN": dsn, "SQA_OPT_OUT": "true", "LOG_LEVEL": "warning"})
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("migrate the Kratos template database (kratos migrate sql -e --yes): %w\n%s", err, lastlines.Of(out.String(), 30))
	}
	return p, nil
}

func (p *prepared) dsn(t testing.TB, db string) string {
	t.Helper()
	return pgtest.Cluster(t).URL(pgtest.RoleKratos, db)
}

// createDatabase creates db owned by the kratos role (with TEST_DATABASE_URL:
// by that URL's role), copied from template unless it is empty.
func (p *prepared) createDatabase(t testing.TB, db, template string) error {
	t.Helper()
	sql := "CREATE DATABASE " + db
	if template != "" {
		sql += " TEMPLATE " + template
	}
	if !p.external {
		sql += " OWNER " + pgtest.RoleKratos
	}
	var err error
	pgtest.Cluster(t).Superuser(t, func(c *pgx.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err = c.Exec(ctx, sql)
	})
	if err != nil {
		return fmt.Errorf("create the Kratos database %s: %w", db, err)
	}
	return nil
}

type database struct {
	p    *prepared
	name string
}

func newDatabase(t testing.TB) (*database, error) {
	t.Helper()
	p, err := prepare(t)
	if err != nil {
		return nil, err
	}
	d := &database{p: p, name: "kratos_" + randHex(6)}
	if err := p.createDatabase(t, d.name, p.template); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *database) drop(t testing.TB) {
	t.Helper()
	pgtest.Cluster(t).Superuser(t, func(c *pgx.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+d.name+" WITH (FORCE)"); err != nil {
			t.Errorf("kratostest: drop database %s: %v", d.name, err)
		}
	})
}

// --- the process --------------------------------------------------------

func start(t testing.TB, db *database, opts Options) (*Kratos, error) {
	t.Helper()
	p := db.p
	var lastErr error
	// A port found free can be taken before Kratos binds it: retry then.
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := freeport.Distinct(context.Background(), 2)
		if err != nil {
			return nil, err
		}
		publicURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		adminURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
		env := map[string]string{
			"DSN":             p.dsn(t, db.name),
			"SECRETS_DEFAULT": randHex(32),
			"SECRETS_COOKIE":  randHex(32),
			"SECRETS_CIPHER":  randHex(16), // exactly 32 characters
			"IDENTITY_SCHEMAS": fmt.Sprintf(`[{"id":"default","url":%q}]`,
				"file://"+filepath.Join(configDir(p.root), "identity.schema.json")),
			"SERVE_PUBLIC_PORT":     strconv.Itoa(ports[0]),
			"SERVE_ADMIN_PORT":      strconv.Itoa(ports[1]),
			"SERVE_PUBLIC_BASE_URL": publicURL + "/",
			"SERVE_ADMIN_BASE_URL":  adminURL + "/",
			"SQA_OPT_OUT":           "true",
			// Offline: otherwise every registration waits 15 s for the lookup.
			"SELFSERVICE_METHODS_PASSWORD_CONFIG_HAVEIBEENPWNED_ENABLED": "false",
			// Kratos's minimum; 12 (the config) costs ~250 ms per hash.
			"HASHERS_BCRYPT_COST": "4",
			"LOG_FORMAT":          "text",
			"LOG_LEVEL":           "info",
		}
		if opts.DSN != nil {
			env["DSN"] = opts.DSN(env["DSN"])
		}
		maps.Copy(env, opts.Env)
		args := []string{"serve", "-c", filepath.Join(configDir(p.root), "kratos.yml")}
		for _, f := range opts.ConfigFiles {
			if !filepath.IsAbs(f) {
				f = filepath.Join(configDir(p.root), f)
			}
			args = append(args, "-c", f)
		}
		args = append(args, "--dev")
		cmd := exec.Command(p.bin, args...) //nolint:noctx // must outlive the starting context; stopped by Stop
		cmd.Dir = p.root
		cmd.Env = baseEnv(env)
		proc, err := childproc.Start(cmd)
		if err != nil {
			return nil, err
		}
		k := &Kratos{PublicURL: publicURL, AdminURL: adminURL, root: p.root, proc: proc,
			http: &http.Client{Timeout: 30 * time.Second}}
		k.Admin = newClient(adminURL)
		k.Public = newClient(publicURL)
		err = k.waitReady(60 * time.Second)
		if err == nil {
			return k, nil
		}
		k.Stop()
		lastErr = err
		if !strings.Contains(k.Logs(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func newClient(base string) *ory.APIClient {
	cfg := ory.NewConfiguration()
	cfg.Servers = ory.ServerConfigurations{{URL: base}}
	cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	return ory.NewAPIClient(cfg)
}

// waitReady polls both health endpoints until they answer 200.
func (k *Kratos) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	urls := []string{k.PublicURL + "/health/ready", k.AdminURL + "/admin/health/ready"}
	client := &http.Client{Timeout: time.Second}
	for {
		ready := true
		var last string
		for _, u := range urls {
			if code, err := getStatus(client, u); err != nil || code != http.StatusOK {
				ready, last = false, fmt.Sprintf("%s: status %d, error %v", u, code, err)
				break
			}
		}
		if ready {
			return nil
		}
		select {
		case <-k.proc.Exited():
			return fmt.Errorf("kratos serve exited during start-up: %w\nKratos log:\n%s", k.proc.Err(), lastlines.Of(k.Logs(), 30))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kratos serve not ready within %s (%s)\nKratos log:\n%s", limit, last, lastlines.Of(k.Logs(), 30))
		}
	}
}

func getStatus(c *http.Client, u string) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// baseEnv is a minimal environment plus vars: Kratos reads its whole
// configuration from the environment, so the test runner's variables must
// not leak in.
func baseEnv(vars map[string]string) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("crypto/rand failed"))
	}
	return hex.EncodeToString(b)
}
