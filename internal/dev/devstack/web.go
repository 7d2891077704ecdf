package devstack

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/toolchain/gobin"
	"github.com/groundwork-dev/groundwork/internal/toolchain/webbuild"
)

// The webapp on the one origin (docs/webapp.md): devweb (internal/dev/webproxy)
// on WebPort serves webapp/dist — built by npm when its sources changed —
// or, in watch mode, Vite's dev server, and proxies /api/ to the gateway
// and /.ory/kratos/public/ to Kratos.

// WebAddr is the one origin's listen address.
func (c Config) WebAddr() string { return c.addr(c.Port(EnvWebPort)) }

// WebOrigin is the browser origin of the webapp, the API and Kratos.
func (c Config) WebOrigin() string { return "http://" + c.WebAddr() }

// ViteAddr is Vite's dev server (watch mode only).
func (c Config) ViteAddr() string { return c.addr(c.Port(EnvVitePort)) }

// WebappDir is the npm project.
func (c Config) WebappDir() string { return webbuild.Dir(c.Root) }

// WebDist is the webapp's build output.
func (c Config) WebDist() string { return webbuild.Dist(c.Root) }

func (c Config) webRunDir() string { return filepath.Join(c.StateDir(), "web") }
func (c Config) devwebBin() string { return gobin.Path(c.Root, devweb.Name) }

// devweb is the one-origin proxy (internal/dev/webproxy).
var devweb = gobin.Program{Name: "devweb", Dir: ".", Package: "./internal/dev/webproxy/cmd/devweb",
	Sources: []string{filepath.Join("internal", "dev", "webproxy")}}

func (s *Stack) viteProcess(node string) *process {
	return &process{
		Name: "vite",
		Bin:  node,
		Args: []string{filepath.Join(s.cfg.WebappDir(), "node_modules", "vite", "bin", "vite.js"),
			"--host", "127.0.0.1", "--port", fmt.Sprint(s.cfg.Port(EnvVitePort)), "--strictPort"},
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

// webComponent is the one origin, and Vite's dev server in watch mode.
type webComponent struct{}

func (webComponent) Name() string { return "web" }

func (webComponent) Ports() []Port { return []Port{{EnvWebPort, 8080}, {EnvVitePort, 5173}} }

// Up builds what is stale and runs the origin (and Vite in watch mode).
func (webComponent) Up(ctx context.Context, s *Stack) error {
	printf := func(format string, a ...any) { fmt.Fprintf(s.out, format, a...) }
	node, _ := exec.LookPath("node")
	vite := s.viteProcess(node)
	if s.cfg.WebWatch {
		if err := webbuild.EnsureNodeModules(ctx, s.cfg.Root, printf); err != nil {
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
		if _, err := webbuild.Ensure(ctx, s.cfg.Root, printf); err != nil {
			return err
		}
	}
	bin, _, err := gobin.Ensure(ctx, s.cfg.Root, devweb)
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

func (webComponent) Down(ctx context.Context, s *Stack) error {
	node, _ := exec.LookPath("node")
	for _, p := range []*process{s.devwebProcess(s.cfg.devwebBin()), s.viteProcess(node)} {
		if err := s.stopProcess(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (webComponent) Check(ctx context.Context, s *Stack) []ComponentStatus {
	mode := "dist"
	if s.cfg.WebWatch {
		mode = "watch: vite " + s.cfg.ViteAddr()
	}
	st := ComponentStatus{Name: "web", Address: s.cfg.WebOrigin() + " (" + mode + ")"}
	return []ComponentStatus{processStatus(ctx, st, s.devwebProcess(s.cfg.devwebBin()), s.webReady, "healthy (webapp and Kratos through the origin)")}
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
