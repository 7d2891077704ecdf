package devstack

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

// The webapp on the one origin (docs/webapp.md): devweb (internal/webproxy)
// on WebPort serves webapp/dist — built by npm when its sources changed —
// or, in watch mode, Vite's dev server, and proxies /api/ to the gateway
// and /.ory/kratos/public/ to Kratos.

// InitialJSBudget is the most JavaScript, gzip-compressed, that the first
// page may load (docs/performance.md).
const InitialJSBudget = 150 << 10

// WebAddr is the one origin's listen address.
func (c Config) WebAddr() string { return c.addr(c.WebPort) }

// WebOrigin is the browser origin of the webapp, the API and Kratos.
func (c Config) WebOrigin() string { return "http://" + c.WebAddr() }

// ViteAddr is Vite's dev server (watch mode only).
func (c Config) ViteAddr() string { return c.addr(c.VitePort) }

// WebappDir is the npm project.
func (c Config) WebappDir() string { return filepath.Join(c.Root, "webapp") }

// WebDist is the webapp's build output.
func (c Config) WebDist() string { return filepath.Join(c.WebappDir(), "dist") }

func (c Config) webRunDir() string { return filepath.Join(c.StateDir(), "web") }
func (c Config) devwebBin() string { return filepath.Join(c.Root, ".cache", "bin", "devweb") }
func (c Config) webCacheDir() string {
	return filepath.Join(c.Root, ".cache", "webapp")
}

// EnsureWebapp installs the webapp's npm dependencies when the lockfile
// changed (npm ci) and builds webapp/dist when its sources changed. Both
// are stamped, so a warm call costs a hash of the sources. A file lock makes
// concurrent callers (parallel stack tests) wait for one build. It reports
// whether it built.
func EnsureWebapp(ctx context.Context, c Config, out func(format string, a ...any)) (bool, error) {
	unlock, err := flock(filepath.Join(c.webCacheDir(), "build.lock"))
	if err != nil {
		return false, err
	}
	defer unlock()
	// The stamp covers package-lock.json: a current build needs neither
	// node_modules nor Node.
	want, err := webSourceStamp(c.WebappDir())
	if err != nil {
		return false, err
	}
	stampFile := filepath.Join(c.webCacheDir(), "dist.stamp")
	if got, err := os.ReadFile(stampFile); err == nil && string(got) == want {
		if _, err := os.Stat(filepath.Join(c.WebDist(), "index.html")); err == nil {
			return false, nil
		}
	}
	if err := ensureNodeModules(ctx, c, out); err != nil {
		return false, err
	}
	start := time.Now()
	if err := npm(ctx, c.WebappDir(), "run", "build"); err != nil {
		return false, fmt.Errorf("webapp: npm run build: %w", err)
	}
	if err := os.WriteFile(stampFile, []byte(want), 0o644); err != nil {
		return false, fmt.Errorf("webapp: record build: %w", err)
	}
	js, err := MeasureInitialJS(c.WebDist())
	if err != nil {
		return true, err
	}
	out("webapp        built %s in %s; %s\n", c.WebDist(), time.Since(start).Round(100*time.Millisecond), js)
	return true, nil
}

// ensureNodeModules runs npm ci when package-lock.json or Node changed
// since the last install.
func ensureNodeModules(ctx context.Context, c Config, out func(format string, a ...any)) error {
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("webapp: node is not installed: the webapp needs Node.js 20.19 or newer with npm (https://nodejs.org, or your distribution's nodejs package if it is new enough): %w", err)
	}
	// Node's identity without running it (a warm dev:up stays fast): an
	// upgraded Node is another file.
	fi, err := os.Stat(node)
	if err != nil {
		return fmt.Errorf("webapp: %w", err)
	}
	ver := fmt.Appendf(nil, "%s %d %d\n", node, fi.Size(), fi.ModTime().UnixNano())
	lock, err := os.ReadFile(filepath.Join(c.WebappDir(), "package-lock.json"))
	if err != nil {
		return fmt.Errorf("webapp: %w", err)
	}
	sum := sha256.Sum256(append(append([]byte{}, ver...), lock...))
	want := hex.EncodeToString(sum[:]) + "\n"
	stampFile := filepath.Join(c.WebappDir(), "node_modules", ".groundwork-npm-ci")
	if got, err := os.ReadFile(stampFile); err == nil && string(got) == want {
		return nil
	}
	start := time.Now()
	if err := npm(ctx, c.WebappDir(), "ci", "--no-audit", "--no-fund"); err != nil {
		return fmt.Errorf("webapp: npm ci: %w", err)
	}
	out("webapp        npm ci (package-lock.json changed) in %s\n", time.Since(start).Round(100*time.Millisecond))
	return os.WriteFile(stampFile, []byte(want), 0o644) //nolint:gosec // G703: a path under the repository's webapp/, from the stack's configuration
}

func npm(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_UPDATE_NOTIFIER=1", "npm_config_update_notifier=false")
	outb, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, lastLines(outb, 30))
	}
	return nil
}

// webSourceStamp hashes what the build reads: the webapp's files outside
// node_modules, dist, nginx and e2e.
func webSourceStamp(dir string) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			switch e.Name() {
			case "node_modules", "dist", "nginx", "e2e":
				return filepath.SkipDir
			}
			return nil
		}
		if e.Type().IsRegular() && !strings.Contains(e.Name(), ".test.") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("webapp: hash sources: %w", err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("webapp: hash sources: %w", err)
		}
		rel, _ := filepath.Rel(dir, f)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)) + "\n", nil
}

func flock(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil { //nolint:gosec // G115: a file descriptor fits int
		f.Close()
		return nil, fmt.Errorf("take lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:gosec // G115: as above
		f.Close()
	}, nil
}

// InitialJS is the JavaScript the first page loads: the entry script and
// the modules index.html preloads, with their gzip sizes.
type InitialJS struct {
	Files     []string
	GzipBytes int
}

func (j InitialJS) String() string {
	return fmt.Sprintf("initial JS: %.1f KB gzip (budget %d KB)", float64(j.GzipBytes)/1024, InitialJSBudget>>10)
}

// OverBudget reports whether it exceeds InitialJSBudget.
func (j InitialJS) OverBudget() bool { return j.GzipBytes > InitialJSBudget }

var scriptRefs = regexp.MustCompile(`<(?:script[^>]*\bsrc|link[^>]*\brel="modulepreload"[^>]*\bhref)="(/[^"]+\.js)"`)

// MeasureInitialJS reads dist/index.html and gzips (level 9, as a CDN or
// nginx with a high level would) every script it loads up front.
func MeasureInitialJS(dist string) (InitialJS, error) {
	html, err := os.ReadFile(filepath.Join(dist, "index.html"))
	if err != nil {
		return InitialJS{}, fmt.Errorf("measure initial JS: %w", err)
	}
	var j InitialJS
	for _, m := range scriptRefs.FindAllStringSubmatch(string(html), -1) {
		b, err := os.ReadFile(filepath.Join(dist, filepath.FromSlash(strings.TrimPrefix(m[1], "/")))) //nolint:gosec // G703: our own build's index.html names the file
		if err != nil {
			return InitialJS{}, fmt.Errorf("measure initial JS: index.html loads %s: %w", m[1], err)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		j.Files = append(j.Files, m[1])
		j.GzipBytes += buf.Len()
	}
	if len(j.Files) == 0 {
		return InitialJS{}, errors.New("measure initial JS: index.html loads no script")
	}
	return j, nil
}

// ensureDevweb builds the one-origin proxy when its sources changed.
func (s *Stack) ensureDevweb(ctx context.Context) (string, error) {
	bin := s.cfg.devwebBin()
	// Parallel stacks (the stack tests) build it once.
	unlock, err := flock(bin + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	want, err := sourceStamp(s.cfg.Root, filepath.Join("internal", "webproxy"))
	if err != nil {
		return "", err
	}
	if got, err := os.ReadFile(bin + ".stamp"); err == nil && string(got) == want {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("web: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+".new", "./internal/webproxy/cmd/devweb")
	cmd.Dir = s.cfg.Root
	if outb, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("web: build devweb: %w\n%s", err, lastLines(outb, 20))
	}
	if err := os.Rename(bin+".new", bin); err != nil {
		return "", fmt.Errorf("web: install devweb: %w", err)
	}
	if err := os.WriteFile(bin+".stamp", []byte(want), 0o644); err != nil {
		return "", fmt.Errorf("web: record build: %w", err)
	}
	return bin, nil
}

func (s *Stack) viteProcess(node string) *process {
	return &process{
		Name: "vite",
		Bin:  node,
		Args: []string{filepath.Join(s.cfg.WebappDir(), "node_modules", "vite", "bin", "vite.js"),
			"--host", "127.0.0.1", "--port", fmt.Sprint(s.cfg.VitePort), "--strictPort"},
		Dir:     s.cfg.WebappDir(),
		LogFile: filepath.Join(s.cfg.LogDir(), "vite.log"),
		PIDFile: filepath.Join(s.cfg.webRunDir(), "vite.pid"),
		Ports:   []string{s.cfg.ViteAddr()},
		Ready:   func(ctx context.Context) error { return httpOK(ctx, "http://"+s.cfg.ViteAddr()+"/") },
	}
}

func (s *Stack) devwebProcess(bin string) *process {
	args := []string{"--listen", s.cfg.WebAddr(),
		"--api", "http://" + s.cfg.ServerGatewayAddr(),
		"--kratos", s.cfg.KratosPublicURL()}
	if s.cfg.WebWatch {
		args = append(args, "--dev-server", "http://"+s.cfg.ViteAddr())
	} else {
		args = append(args, "--dist", s.cfg.WebDist())
	}
	return &process{
		Name:    "web",
		Bin:     bin,
		Args:    args,
		Dir:     s.cfg.Root,
		LogFile: filepath.Join(s.cfg.LogDir(), "web.log"),
		PIDFile: filepath.Join(s.cfg.webRunDir(), "web.pid"),
		Ports:   []string{s.cfg.WebAddr()},
		Ready:   func(ctx context.Context) error { return s.webReady(ctx) },
	}
}

// webReady: the page and Kratos through the origin.
func (s *Stack) webReady(ctx context.Context) error {
	if err := httpOK(ctx, s.cfg.WebOrigin()+"/"); err != nil {
		return err
	}
	return httpOK(ctx, s.cfg.WebOrigin()+"/.ory/kratos/public/health/alive")
}

// upWeb builds what is stale and runs the origin (and Vite in watch mode).
func (s *Stack) upWeb(ctx context.Context) error {
	printf := func(format string, a ...any) { fmt.Fprintf(s.out, format, a...) }
	node, _ := exec.LookPath("node")
	vite := s.viteProcess(node)
	if s.cfg.WebWatch {
		if err := ensureNodeModules(ctx, s.cfg, printf); err != nil {
			return err
		}
		started, err := vite.Start(ctx)
		if err != nil {
			return err
		}
		if started {
			fmt.Fprintf(s.out, "vite          started: dev server http://%s (hot reload, behind the origin)\n", s.cfg.ViteAddr())
		}
	} else {
		if _, ok := vite.PID(); ok {
			if err := vite.Stop(ctx); err != nil {
				return fmt.Errorf("vite: stop: %w", err)
			}
			fmt.Fprintln(s.out, "vite          stopped (serving webapp/dist again)")
		}
		if _, err := EnsureWebapp(ctx, s.cfg, printf); err != nil {
			return err
		}
	}
	bin, err := s.ensureDevweb(ctx)
	if err != nil {
		return err
	}
	started, err := s.devwebProcess(bin).Start(ctx)
	if err != nil {
		return err
	}
	if started {
		mode := "webapp/dist"
		if s.cfg.WebWatch {
			mode = "Vite (watch)"
		}
		fmt.Fprintf(s.out, "web           started: %s (/ from %s, /api/, /.ory/kratos/public/)\n", s.cfg.WebOrigin(), mode)
	}
	return nil
}

func (s *Stack) downWeb(ctx context.Context) error {
	node, _ := exec.LookPath("node")
	for _, p := range []*process{s.devwebProcess(s.cfg.devwebBin()), s.viteProcess(node)} {
		if _, ok := p.PID(); !ok {
			continue
		}
		if err := p.Stop(ctx); err != nil {
			return fmt.Errorf("%s: stop: %w", p.Name, err)
		}
		fmt.Fprintf(s.out, "%-13s stopped\n", p.Name)
	}
	return nil
}

func (s *Stack) checkWeb(ctx context.Context) ComponentStatus {
	mode := "dist"
	if s.cfg.WebWatch {
		mode = "watch: vite " + s.cfg.ViteAddr()
	}
	st := ComponentStatus{Name: "web", State: "stopped", Address: s.cfg.WebOrigin() + " (" + mode + ")", Health: "not running (go tool mage dev:up)"}
	if pid, ok := s.devwebProcess(s.cfg.devwebBin()).PID(); ok {
		st.State = fmt.Sprintf("running (pid %d)", pid)
		if err := s.webReady(ctx); err != nil {
			st.Health = err.Error()
		} else {
			st.Health, st.Healthy = "healthy (webapp and Kratos through the origin)", true
		}
	}
	return st
}

// kratosWebEnv sets the browser-facing URLs Kratos needs, all on the one origin.
func (c Config) kratosWebEnv() []string {
	o := c.WebOrigin()
	env := []string{
		"SERVE_PUBLIC_BASE_URL=" + o + "/.ory/kratos/public/",
		"SELFSERVICE_DEFAULT_BROWSER_RETURN_URL=" + o + "/",
		"SELFSERVICE_ALLOWED_RETURN_URLS=" + o,
		"SELFSERVICE_FLOWS_VERIFICATION_AFTER_DEFAULT_BROWSER_RETURN_URL=" + o + "/",
		"SELFSERVICE_FLOWS_LOGOUT_AFTER_DEFAULT_BROWSER_RETURN_URL=" + o + "/login",
	}
	for _, f := range []string{"error", "login", "registration", "settings", "verification", "recovery"} {
		env = append(env, "SELFSERVICE_FLOWS_"+strings.ToUpper(f)+"_UI_URL="+o+"/"+f)
	}
	return env
}

// CheckWebapp is CI's webapp step: dependencies from the lockfile (npm ci
// when stale), ESLint, the TypeScript compiler and the Vitest tests, then
// the production build, whose initial JavaScript must stay in its budget.
func CheckWebapp(ctx context.Context, root string, out io.Writer) error {
	c := Config{Root: root}
	printf := func(format string, a ...any) { fmt.Fprintf(out, format, a...) }
	if err := ensureNodeModules(ctx, c, printf); err != nil {
		return err
	}
	for _, script := range []string{"lint", "typecheck", "test"} {
		fmt.Fprintf(out, "==> webapp: npm run %s\n", script)
		start := time.Now()
		if err := npm(ctx, c.WebappDir(), "run", script); err != nil {
			return fmt.Errorf("webapp: npm run %s: %w", script, err)
		}
		fmt.Fprintf(out, "    ok (%s)\n", time.Since(start).Round(100*time.Millisecond))
	}
	fmt.Fprintln(out, "==> webapp: production build")
	if _, err := EnsureWebapp(ctx, c, printf); err != nil {
		return err
	}
	js, err := MeasureInitialJS(c.WebDist())
	if err != nil {
		return err
	}
	fmt.Fprintln(out, js.String())
	if js.OverBudget() {
		return fmt.Errorf("webapp: %s: over budget (see docs/performance.md)", js)
	}
	return nil
}
