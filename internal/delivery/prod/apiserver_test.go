package prod

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane/controlplanetest"
	"github.com/groundwork-dev/groundwork/internal/delivery/images"
	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
)

// deploy:prod's own code path — kubectl, the staged apply, the waits —
// against a real API server whose fake nodes run the pods (kwok), with
// images pushed to a TLS registry. The operators' controllers do not run
// there: the test writes the status they would write.
func TestProdDeploysToARealAPIServer(t *testing.T) {
	t.Parallel()
	cp := controlplanetest.Start(t, root, true)
	k := cp.Kubectl()
	reg := tlsRegistry(t)
	ctx := t.Context()

	// A controller that never answers (here CloudNativePG's): the deploy
	// stops at the wait with what it waited for, and no workload changes.
	stop := controlplanetest.PlayOperators(t, cp, "Cluster")
	build, _ := randomImages(t)
	var out strings.Builder
	err := Deploy{Root: root, Registry: reg, Build: build, Kube: k, WaitTimeout: 3 * time.Second, Out: &out}.Run(ctx)
	require.ErrorContains(t, err, "stage database: waiting for Cluster groundwork-db/postgres")
	require.ErrorContains(t, err, "(condition=Ready)")
	require.ErrorContains(t, err, "timed out waiting for the condition")
	require.NotContains(t, out.String(), "==> migrations", "nothing after the database stage was applied:\n%s", out.String())
	_, ok, err := k.Get(ctx, "Deployment", "groundwork", "server", "{.metadata.name}")
	require.NoError(t, err)
	require.False(t, ok, "a Deployment was applied before the database was ready")
	stop()

	// All controllers answer: every stage is applied and waited for.
	controlplanetest.PlayOperators(t, cp)
	out.Reset()
	start := time.Now()
	require.NoError(t, Deploy{Root: root, Registry: reg, Build: build, Kube: k, WaitTimeout: 2 * time.Minute, Out: &out}.Run(ctx), out.String())
	t.Logf("deploy:prod to the local control plane in %s", time.Since(start).Round(100*time.Millisecond))
	log := out.String()
	for _, want := range []string{"==> namespaces", "==> config", "==> database", "==> migrations", "==> workloads",
		"waiting for Job groundwork/migrator-", "waiting for Deployment groundwork/server (rollout)"} {
		require.Contains(t, log, want)
	}
	require.Less(t, strings.Index(log, "waiting for Job groundwork/migrator-"), strings.Index(log, "==> workloads"))

	// The migrator Job completed before the server's Deployment existed.
	jobs := list(t, k, "jobs", "groundwork")
	var migrator map[string]any
	for _, j := range jobs {
		if strings.HasPrefix(name(j), "migrator-") {
			migrator = j
		}
	}
	require.NotNil(t, migrator)
	completed := timestamp(t, migrator, "status", "completionTime")
	for _, d := range list(t, k, "deployments", "groundwork") {
		require.False(t, timestamp(t, d, "metadata", "creationTimestamp").Before(completed), "%s was created before the migration completed", name(d))
	}
	// Every Deployment runs the pushed image, with all replicas available.
	pushed := map[string]bool{}
	for line := range strings.SplitSeq(log, "\n") {
		if ref, ok := strings.CutPrefix(line, "pushed "); ok {
			pushed[ref] = true
		}
	}
	require.Len(t, pushed, len(images.Names))
	for _, ns := range []string{"groundwork", "groundwork-auth"} {
		for _, d := range list(t, k, "deployments", ns) {
			status := d["status"].(map[string]any)
			require.Equal(t, d["spec"].(map[string]any)["replicas"], status["availableReplicas"], "%s available", name(d))
			imgs, _, err := k.Get(ctx, "Deployment", ns, name(d), "{.spec.template.spec.containers[*].image}")
			require.NoError(t, err)
			for img := range strings.FieldsSeq(imgs) {
				if strings.Contains(img, "/groundwork/") {
					require.True(t, pushed[img], "%s runs %s, which was not pushed", name(d), img)
				}
			}
		}
	}

	// A dry run with new images shows the differences and changes nothing.
	before := versions(t, k)
	newBuild, _ := randomImages(t)
	out.Reset()
	require.NoError(t, Deploy{Root: root, Registry: reg, Build: newBuild, Kube: k, DryRun: true, Out: &out}.Run(ctx))
	require.Contains(t, out.String(), "would change")
	require.Contains(t, out.String(), "dry run: nothing was applied")
	require.Equal(t, before, versions(t, k), "the dry run changed the cluster")
}

func list(t *testing.T, k kube.Kubectl, resource, ns string) []map[string]any {
	t.Helper()
	b, err := k.Run(t.Context(), nil, "-n", ns, "get", resource, "-o", "json")
	require.NoError(t, err)
	var l struct{ Items []map[string]any }
	require.NoError(t, json.Unmarshal(b, &l))
	return l.Items
}

func name(o map[string]any) string { return o["metadata"].(map[string]any)["name"].(string) }

func timestamp(t *testing.T, o map[string]any, field, key string) time.Time {
	t.Helper()
	s, _ := o[field].(map[string]any)[key].(string)
	ts, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err, "%s %s.%s", name(o), field, key)
	return ts
}

// versions is the resourceVersion of every object of the namespaces the
// overlay writes to.
func versions(t *testing.T, k kube.Kubectl) string {
	t.Helper()
	b, err := k.Run(context.Background(), nil, "get", "all,configmaps,secrets,networkpolicies,poddisruptionbudgets,ingresses,certificates.cert-manager.io,clusters.postgresql.cnpg.io",
		"-A", "-o", "jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}={.metadata.resourceVersion}{\"\\n\"}{end}")
	require.NoError(t, err)
	return string(b)
}
