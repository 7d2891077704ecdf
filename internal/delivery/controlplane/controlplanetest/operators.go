package controlplanetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane"
)

// An operator's controller as played here: the status it writes once the
// object it watches is "done".
type played struct {
	kind      string
	path      string // the collection's API path across namespaces
	condition string // the condition type set True; "" for Database
}

// operators are the controllers the overlays' objects wait for that do not
// run on the local control plane: cert-manager, trust-manager and
// CloudNativePG.
var operators = []played{
	{"Certificate", "/apis/cert-manager.io/v1/certificates", "Ready"},
	{"ClusterIssuer", "/apis/cert-manager.io/v1/clusterissuers", "Ready"},
	{"ClusterBundle", "/apis/trust-manager.io/v1alpha2/clusterbundles", "Synced"},
	{"Cluster", "/apis/postgresql.cnpg.io/v1/clusters", "Ready"},
	{"Database", "/apis/postgresql.cnpg.io/v1/databases", ""}, // status.applied: true
}

type object struct {
	Metadata struct {
		Name, Namespace, SelfLink string
		Generation                int64
	} `json:"metadata"`
	Status struct {
		Applied    *bool `json:"applied"`
		Conditions []struct{ Type, Status string }
	} `json:"status"`
}

// PlayOperators writes, through the status subresource as the operators
// would, the status every waited-for object of those kinds reaches when
// all is well, until the test ends or stop is called. Kinds named in
// except are left alone: their waits never end. It polls the API server
// every 200 ms over HTTP (a kubectl per poll would cost more CPU than the
// tests it serves).
func PlayOperators(t testing.TB, cp *controlplane.ControlPlane, except ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		var lastErr string
		for ctx.Err() == nil {
			for _, op := range operators {
				if slices.Contains(except, op.kind) {
					continue
				}
				// An error is logged and the next poll tries again: a wait
				// that never ends fails the test with its own message.
				if err := play(ctx, cp, op); err != nil && ctx.Err() == nil && err.Error() != lastErr {
					lastErr = err.Error()
					t.Logf("playing the %s controller: %v", op.kind, err)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
	stop = func() {
		cancel()
		wg.Wait()
	}
	t.Cleanup(stop)
	return stop
}

// play marks every object of op's kind that is not done yet.
func play(ctx context.Context, cp *controlplane.ControlPlane, op played) error {
	var list struct{ Items []object }
	if err := cp.API(ctx, http.MethodGet, op.path, nil, &list); err != nil {
		return err
	}
	for _, it := range list.Items {
		done := it.Status.Applied != nil && *it.Status.Applied
		if op.condition != "" {
			done = slices.ContainsFunc(it.Status.Conditions, func(c struct{ Type, Status string }) bool {
				return c.Type == op.condition && c.Status == "True"
			})
		}
		if done {
			continue
		}
		path := op.path + "/" + it.Metadata.Name + "/status"
		if ns := it.Metadata.Namespace; ns != "" {
			// .../v1/certificates -> .../v1/namespaces/<ns>/certificates
			dir, res := op.path[:len(op.path)-len(lastSegment(op.path))], lastSegment(op.path)
			path = dir + "namespaces/" + ns + "/" + res + "/" + it.Metadata.Name + "/status"
		}
		if err := cp.API(ctx, http.MethodPatch, path, statusPatch(op, it.Metadata.Generation), nil); err != nil {
			return fmt.Errorf("%s/%s: %w", it.Metadata.Namespace, it.Metadata.Name, err)
		}
	}
	return nil
}

func lastSegment(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

func statusPatch(op played, generation int64) []byte {
	var status map[string]any
	if op.condition == "" {
		status = map[string]any{"applied": true, "observedGeneration": generation}
	} else {
		status = map[string]any{"conditions": []any{map[string]any{
			"type": op.condition, "status": "True", "reason": "PlayedByTest",
			"message":            "set by the test in place of the operator, which does not run on the local control plane",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": generation,
		}}}
	}
	b, _ := json.Marshal(map[string]any{"status": status})
	return b
}
