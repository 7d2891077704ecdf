package controlplanetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane"
)

// An operator's controller as played here: the status it writes once the
// object it watches is "done".
type played struct {
	kind, resource string // kind, and resource.group as kubectl names it
	condition      string // the condition type set True; "" for Database
}

// operators are the controllers the overlays' objects wait for that do not
// run on the local control plane: cert-manager, trust-manager and
// CloudNativePG.
var operators = []played{
	{"Certificate", "certificates.cert-manager.io", "Ready"},
	{"ClusterIssuer", "clusterissuers.cert-manager.io", "Ready"},
	{"ClusterBundle", "clusterbundles.trust-manager.io", "Synced"},
	{"Cluster", "clusters.postgresql.cnpg.io", "Ready"},
	{"Database", "databases.postgresql.cnpg.io", ""}, // status.applied: true
}

// PlayOperators writes, through the status subresource as the operators
// would, the status every waited-for object of those kinds reaches when
// all is well, until the test ends or stop is called. Kinds named in
// except are left alone: their waits never end.
func PlayOperators(t testing.TB, cp *controlplane.ControlPlane, except ...string) (stop func()) {
	t.Helper()
	var resources []string
	byKind := map[string]played{}
	for _, o := range operators {
		if !slices.Contains(except, o.kind) {
			resources = append(resources, o.resource)
			byKind[o.kind] = o
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		k := cp.Kubectl()
		for ctx.Err() == nil {
			out, err := k.Run(ctx, nil, "get", strings.Join(resources, ","), "-A", "-o", "json")
			if err != nil && ctx.Err() == nil {
				t.Errorf("playing the operators: %v", err)
				return
			}
			var list struct {
				Items []struct {
					Kind     string `json:"kind"`
					Metadata struct {
						Name, Namespace string
						Generation      int64
					} `json:"metadata"`
					Status struct {
						Applied    *bool `json:"applied"`
						Conditions []struct{ Type, Status string }
					} `json:"status"`
				} `json:"items"`
			}
			_ = json.Unmarshal(out, &list)
			for _, it := range list.Items {
				op := byKind[it.Kind]
				done := it.Status.Applied != nil && *it.Status.Applied
				if op.condition != "" {
					done = slices.ContainsFunc(it.Status.Conditions, func(c struct{ Type, Status string }) bool {
						return c.Type == op.condition && c.Status == "True"
					})
				}
				if done {
					continue
				}
				args := []string{"patch", op.resource, it.Metadata.Name, "--subresource=status", "--type=merge", "-p", statusPatch(op, it.Metadata.Generation)}
				if it.Metadata.Namespace != "" {
					args = append(args, "-n", it.Metadata.Namespace)
				}
				if _, err := k.Run(ctx, nil, args...); err != nil && ctx.Err() == nil {
					t.Errorf("playing %s for %s/%s: %v", op.kind, it.Metadata.Namespace, it.Metadata.Name, err)
					return
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	stop = func() {
		cancel()
		wg.Wait()
	}
	t.Cleanup(stop)
	return stop
}

func statusPatch(op played, generation int64) string {
	if op.condition == "" {
		return `{"status":{"applied":true,"observedGeneration":` + fmt.Sprint(generation) + `}}`
	}
	c := map[string]any{
		"type": op.condition, "status": "True", "reason": "PlayedByTest",
		"message":            "set by the test in place of the operator, which does not run on the local control plane",
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": generation,
	}
	b, _ := json.Marshal(map[string]any{"status": map[string]any{"conditions": []any{c}}})
	return string(b)
}
