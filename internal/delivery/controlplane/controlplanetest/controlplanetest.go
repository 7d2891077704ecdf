// Package controlplanetest gives a test a real Kubernetes control plane
// (package controlplane) on free loopback ports, with the operators' CRDs
// installed, stopped when the test ends; and stands in for the operators'
// controllers that do not run there, by writing the status they would
// write.
package controlplanetest

import (
	"context"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane"
	"github.com/groundwork-dev/groundwork/internal/shared/logtest"
)

// Start starts a control plane for t from the binaries of the checkout at
// root (built into the user's cache the first time on a machine: about 15
// minutes on two cores, so run a cold machine's tests with -timeout 30m,
// or `go tool mage kube:up` once first), installs the CRDs and stops it at
// the end of the test. With workloads, Deployments roll out and Jobs
// complete on fake nodes.
func Start(t testing.TB, root string, workloads bool) *controlplane.ControlPlane {
	t.Helper()
	ctx := context.Background()
	var log logtest.Buffer
	bins, err := controlplane.EnsureBinaries(ctx, root, workloads, &log)
	if err != nil {
		t.Fatalf("control plane binaries: %v\n%s", err, log.String())
	}
	seed, err := controlplane.Seed(ctx, root, bins, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	ports, err := controlplane.FreePorts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := controlplane.Config{Dir: t.TempDir(), Ports: ports, Workloads: workloads, FastStorage: true, Seed: seed}
	start := time.Now()
	cp, err := controlplane.Start(ctx, cfg, bins)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane logs:\n%s", cp.Logs(40))
		}
		cp.Stop()
	})
	t.Logf("control plane ready in %s", time.Since(start).Round(100*time.Millisecond))
	return cp
}
