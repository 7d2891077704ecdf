package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
	"github.com/groundwork-dev/groundwork/internal/dev/detached"
)

// Local is `mage kube:up`'s control plane: the same processes as a test's,
// detached (they outlive mage, like the dev stack's), on DefaultPorts, with
// state under <root>/.dev/kube that survives kube:down.
type Local struct {
	Root string
	Out  io.Writer
	// Dir and Ports replace .dev/kube and DefaultPorts when set.
	Dir   string
	Ports Ports
}

// Config is the local control plane's configuration.
func (l Local) Config() Config {
	c := Config{Dir: l.Dir, Context: DefaultContext, Ports: l.Ports, Workloads: true}
	if c.Dir == "" {
		c.Dir = filepath.Join(l.Root, ".dev", "kube")
	}
	if c.Ports == (Ports{}) {
		c.Ports = DefaultPorts()
	}
	return c.withDefaults()
}

func (l Local) detached(p process) *detached.Process {
	dir := l.Config().Dir
	return &detached.Process{
		Name: p.name, Bin: p.bin, Args: p.args, Dir: dir,
		LogFile: filepath.Join(dir, "logs", p.name+".log"),
		PIDFile: filepath.Join(dir, "run", p.name+".pid"),
		Ports:   p.addrs,
		Ready: func(ctx context.Context) error {
			return poll(ctx, p.name, startTimeout, p.ready, nil)
		},
	}
}

// Up builds what is missing, starts what is not running, installs the
// CRDs and prints how to use the control plane.
func (l Local) Up(ctx context.Context) error {
	start := time.Now()
	c := l.Config()
	bins, err := EnsureBinaries(ctx, l.Root, true, l.Out)
	if err != nil {
		return err
	}
	crds, n, err := CRDs(ctx, l.Root)
	if err != nil {
		return err
	}
	// A new control plane starts from the seed, with the CRDs in place;
	// one with state gets them applied (versions.yaml may have changed).
	_, statErr := os.Stat(filepath.Join(c.Dir, "etcd"))
	fresh := errors.Is(statErr, fs.ErrNotExist)
	if fresh {
		if c.Seed, err = Seed(ctx, l.Root, bins, l.Out); err != nil {
			return err
		}
	}
	if err := writeFiles(ctx, c); err != nil {
		return err
	}
	for _, p := range plan(c, bins) {
		d := l.detached(p)
		started, err := d.Start(ctx)
		if err != nil {
			return fmt.Errorf("%w (log: %s)", err, d.LogFile)
		}
		if started {
			fmt.Fprintf(l.Out, "kube: %s started (log %s)\n", p.name, d.LogFile)
		}
		if p.after != nil {
			if err := p.after(ctx); err != nil {
				return fmt.Errorf("control plane: after %s started: %w", p.name, err)
			}
		}
	}
	namespaces, err := OperatorNamespaces(l.Root)
	if err != nil {
		return err
	}
	if !fresh {
		if err := InstallCRDs(ctx, kubectlFor(c), crds, namespaces); err != nil {
			return err
		}
	}
	rel, _ := filepath.Rel(l.Root, c.Kubeconfig())
	fmt.Fprintf(l.Out, `kube: Kubernetes %s ready in %s at %s, %d CRDs and the operators' namespaces, %d fake nodes (kwok)
  export KUBECONFIG=$PWD/%s
  kubectl get nodes
  go tool mage kube:apply k8s/overlays/prod   # the API server's verdict on an overlay, stage by stage
`, Version, time.Since(start).Round(100*time.Millisecond), c.Server(), n, c.Nodes, rel)
	return nil
}

// Apply renders the kustomization in dir and applies it server-side,
// stage by stage as the deploy targets do (namespaces first, so that the
// objects in them are checked too), without waiting: no operator runs here
// to make a Certificate Ready. The first refusal stops it, with the API
// server's message.
func (l Local) Apply(ctx context.Context, dir string) error {
	c := l.Config()
	if err := apiServerReady(ctx, c); err != nil {
		return err
	}
	objs, err := manifests.Render(dir)
	if err != nil {
		return err
	}
	k := kubectlFor(c)
	k.Log = l.Out
	for _, st := range manifests.Stages(objs) {
		y, err := manifests.YAML(st.Objects)
		if err != nil {
			return err
		}
		fmt.Fprintf(l.Out, "==> %s: applying %d objects\n", st.Name, len(st.Objects))
		if err := k.Apply(ctx, y); err != nil {
			return fmt.Errorf("applying %s, stage %s: %w", dir, st.Name, err)
		}
	}
	fmt.Fprintf(l.Out, "kube: %s accepted by the API server (%d objects)\n", dir, len(objs))
	return nil
}

// apiServerReady fails with ErrNotRunning unless the API server answers.
func apiServerReady(ctx context.Context, c Config) error {
	if err := plan(c, Binaries{})[1].ready(ctx); err != nil {
		return fmt.Errorf("%w: %w (start it with `go tool mage kube:up`)", ErrNotRunning, err)
	}
	return nil
}

// Down stops the processes, the last started first; the state stays (delete
// .dev/kube to start empty).
func (l Local) Down(ctx context.Context) error {
	c := l.Config()
	procs, err := l.processes()
	if err != nil {
		return err
	}
	for _, p := range slices.Backward(procs) {
		if err := l.detached(p).Stop(ctx); err != nil {
			return fmt.Errorf("stopping %s: %w", p.name, err)
		}
	}
	fmt.Fprintf(l.Out, "kube: stopped; state kept in %s\n", c.Dir)
	return nil
}

// Status prints each process's state and whether the API server answers.
func (l Local) Status(ctx context.Context) error {
	c := l.Config()
	procs, err := l.processes()
	if err != nil {
		return err
	}
	for _, p := range procs {
		state := "stopped"
		if pid, ok := l.detached(p).PID(); ok {
			state = fmt.Sprintf("running (pid %d)", pid)
		}
		fmt.Fprintf(l.Out, "  %-24s %s\n", p.name, state)
	}
	if err := apiServerReady(ctx, c); err != nil {
		return err
	}
	fmt.Fprintf(l.Out, "kube: %s answers; KUBECONFIG=%s\n", c.Server(), c.Kubeconfig())
	return nil
}

// processes are the local control plane's processes as Up started them,
// without building or writing anything.
func (l Local) processes() ([]process, error) {
	c := l.Config()
	if _, err := os.Stat(c.Kubeconfig()); err != nil {
		return nil, fmt.Errorf("%w: no %s (start it with `go tool mage kube:up`)", ErrNotRunning, c.Kubeconfig())
	}
	return plan(c, Binaries{Etcd: "etcd", APIServer: "kube-apiserver", ControllerManager: "kube-controller-manager", Scheduler: "kube-scheduler", Kwok: "kwok"}), nil
}
