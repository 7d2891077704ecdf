package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/shared/childproc"
	"github.com/groundwork-dev/groundwork/internal/shared/lastlines"
)

// ControlPlane is a running control plane whose processes are children of
// this one: they stop with Stop, or die with this process.
type ControlPlane struct {
	Config Config
	procs  []*childproc.Process
	names  []string
	admin  func() (*http.Client, error)
}

// startTimeout bounds each process's start; the API server takes about 5 s
// on two idle cores, more when tests run beside it.
const startTimeout = 90 * time.Second

// Start starts the control plane of c as children of this process and
// returns when every process is ready (and, with workloads, every fake
// node is Ready). On failure what started is stopped and the error has
// the failing process's last log lines.
func Start(ctx context.Context, c Config, bins Binaries) (*ControlPlane, error) {
	c = c.withDefaults()
	if err := writeFiles(ctx, c); err != nil {
		return nil, err
	}
	cp := &ControlPlane{Config: c, admin: sync.OnceValues(c.AdminClient)}
	for _, p := range plan(c, bins) {
		cmd := exec.Command(p.bin, p.args...) //nolint:noctx // lives until Stop, not until ctx ends
		cmd.Dir = c.Dir
		child, err := childproc.Start(cmd)
		if err != nil {
			cp.Stop()
			return nil, err
		}
		cp.procs = append(cp.procs, child)
		cp.names = append(cp.names, p.name)
		if err := poll(ctx, p.name, startTimeout, p.ready, child.Exited()); err != nil {
			cp.Stop()
			return nil, fmt.Errorf("%w\n%s log:\n%s", err, p.name, lastlines.Of(child.Logs(), 30))
		}
		if p.after != nil {
			if err := p.after(ctx); err != nil {
				cp.Stop()
				return nil, fmt.Errorf("control plane: after %s started: %w", p.name, err)
			}
		}
	}
	return cp, nil
}

// Stop stops the processes, the last started first.
func (cp *ControlPlane) Stop() {
	for _, p := range slices.Backward(cp.procs) {
		p.Stop(10 * time.Second)
	}
}

// Logs returns the last lines of every process's output, for a failed
// test's report.
func (cp *ControlPlane) Logs(lines int) string {
	var b strings.Builder
	for i, p := range cp.procs {
		fmt.Fprintf(&b, "--- %s\n%s\n", cp.names[i], lastlines.Of(p.Logs(), lines))
	}
	return b.String()
}

// API sends one request to the API server as the admin (path from /, a
// JSON merge patch when mergePatch is set) and decodes a 200 answer into
// into, if not nil: for calls too frequent to start a kubectl for each.
func (cp *ControlPlane) API(ctx context.Context, method, path string, mergePatch []byte, into any) error {
	hc, err := cp.admin()
	if err != nil {
		return err
	}
	b, err := do(ctx, hc, method, cp.Config.Server()+path, mergePatch)
	if err != nil || into == nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// Kubectl is kubectl with the admin kubeconfig.
func (cp *ControlPlane) Kubectl() kube.Kubectl {
	return kubectlFor(cp.Config)
}
