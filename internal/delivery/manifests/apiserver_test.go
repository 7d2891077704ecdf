package manifests_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane/controlplanetest"
	"github.com/groundwork-dev/groundwork/internal/delivery/images"
	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

const root = "../../.."

// pinned renders an overlay as deploy:prod and kind:deploy do: images
// pinned to digests (the Jobs renamed after them) and checked.
func pinned(t *testing.T, overlay string, production bool) []manifests.Object {
	t.Helper()
	pushed := map[string]string{}
	for i, name := range images.Names {
		pushed[name] = fmt.Sprintf("registry.example.com/groundwork/%s@sha256:%064x", name, i+1)
	}
	objs, err := kube.RenderPinned(filepath.Join(root, overlay), pushed, production)
	require.NoError(t, err)
	return objs
}

// applyStages applies each stage server-side, namespaces first, in the
// order the deploy code applies them (the waits are the deploy tests'),
// and returns the resourceVersion of every object after the last stage.
func applyStages(t *testing.T, k kube.Kubectl, objs []manifests.Object, force bool) map[string]string {
	t.Helper()
	for _, st := range manifests.Stages(objs) {
		y, err := manifests.YAML(st.Objects)
		require.NoError(t, err)
		args := []string{"apply", "--server-side", "--field-manager=" + kube.FieldManager, "-f", "-"}
		if force {
			args = append(args, "--force-conflicts")
		}
		_, err = k.Run(t.Context(), y, args...)
		require.NoError(t, err, "stage %s", st.Name)
	}
	y, err := manifests.YAML(objs)
	require.NoError(t, err)
	out, err := k.Run(t.Context(), y, "get", "-f", "-", "-o", "json")
	require.NoError(t, err)
	var list struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct{ Namespace, Name, ResourceVersion string }
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(out, &list))
	require.Len(t, list.Items, len(objs))
	versions := map[string]string{}
	for _, it := range list.Items {
		versions[it.Kind+"/"+it.Metadata.Namespace+"/"+it.Metadata.Name] = it.Metadata.ResourceVersion
	}
	return versions
}

// Each overlay, as deploy applies it, is accepted by a real API server
// with the operators' CRDs (schemas, CEL rules, built-in admission such as
// Pod Security labels), and applying it again is a no-op: no conflict, no
// object changed.
func TestOverlaysApplyToARealAPIServer(t *testing.T) {
	t.Parallel()
	for _, o := range []struct {
		dir        string
		production bool
	}{{manifests.DevOverlay, false}, {manifests.ProdOverlay, true}} {
		t.Run(filepath.Base(o.dir), func(t *testing.T) {
			t.Parallel()
			cp := controlplanetest.Start(t, root, false)
			k := cp.Kubectl()
			objs := pinned(t, o.dir, o.production)
			first := applyStages(t, k, objs, true)
			// Without --force-conflicts: a conflict would fail here.
			again := applyStages(t, k, objs, false)
			require.Equal(t, first, again, "applying the same overlay again changed objects")
			if o.production {
				refusals(t, k, objs)
			}
		})
	}
}

// refusals: broken objects that decode into their Go types without complaint and
// that the API server refuses, each with its reason. Where manifests.Check
// also catches one (by its consequences, or by production policy), the
// table says what it reports; the others only the API server catches.
// The prod overlay (objs) is applied.
func refusals(t *testing.T, k kube.Kubectl, objs []manifests.Object) {
	for _, m := range []struct {
		name, kind string
		mutate     func(map[string]any)
		refusal    string
		checks     string // what manifests.Check reports; "": it accepts the object
	}{
		{"CNPG cluster without instances", "Cluster",
			func(o map[string]any) { spec(o)["instances"] = 0 },
			"spec.instances: Invalid value: 0: spec.instances in body should be greater than or equal to 1",
			"a single PostgreSQL instance"},
		{"CNPG cluster with an image and an image catalog (CEL rule)", "Cluster",
			func(o map[string]any) {
				spec(o)["imageName"] = "ghcr.io/cloudnative-pg/postgresql:17"
				spec(o)["imageCatalogRef"] = map[string]any{"apiGroup": "postgresql.cnpg.io", "kind": "ImageCatalog", "name": "pg", "major": 17}
			},
			"imageName and imageCatalogRef are mutually exclusive", ""},
		{"Certificate without secretName", "Certificate",
			func(o map[string]any) { delete(spec(o), "secretName") },
			"spec.secretName: Required value",
			"which no Certificate, ClusterBundle or manifest produces"},
		{"Database that is neither present nor absent", "Database",
			func(o map[string]any) { spec(o)["ensure"] = "maybe" },
			`spec.ensure: Unsupported value: "maybe"`, ""},
		{"Deployment whose selector misses its pods", "Deployment",
			func(o map[string]any) {
				spec(o)["selector"] = map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "nothing"}}
			},
			"`selector` does not match template `labels`", ""},
		{"ServiceMonitor with an interval Prometheus cannot parse", "ServiceMonitor",
			func(o map[string]any) {
				spec(o)["endpoints"].([]any)[0].(map[string]any)["interval"] = "30 seconds"
			},
			`spec.endpoints[0].interval: Invalid value: "30 seconds"`, ""},
		{"PrometheusRule whose for is no duration", "PrometheusRule",
			func(o map[string]any) {
				groups := spec(o)["groups"].([]any)
				rules := groups[len(groups)-1].(map[string]any)["rules"].([]any)
				rules[0].(map[string]any)["for"] = "five minutes"
			},
			`Invalid value: "five minutes"`, ""},
		{"Namespace with an unknown Pod Security level", "Namespace",
			func(o map[string]any) {
				md := o["metadata"].(map[string]any)
				md["labels"].(map[string]any)["pod-security.kubernetes.io/enforce"] = "strictest"
			},
			`pod-security.kubernetes.io/enforce`,
			"pod-security.kubernetes.io/enforce is not restricted"},
	} {
		t.Run(m.name, func(t *testing.T) {
			broken := make([]manifests.Object, len(objs))
			copy(broken, objs)
			i := indexOf(t, broken, m.kind)
			broken[i].Map = deepCopy(t, broken[i].Map)
			m.mutate(broken[i].Map)

			set, err := manifests.Decode(broken)
			require.NoError(t, err, "decoding refuses it already: not a case for the API server")
			if err := manifests.Check(set, manifests.PolicyFor(true)); m.checks == "" {
				require.NoError(t, err, "the checks refuse it too: say what they report")
			} else {
				require.ErrorContains(t, err, m.checks)
			}

			y, err := manifests.YAML(broken[i : i+1])
			require.NoError(t, err)
			_, err = k.Run(t.Context(), y, "apply", "--server-side", "--dry-run=server", "--field-manager="+kube.FieldManager, "--force-conflicts", "-f", "-")
			require.ErrorContains(t, err, m.refusal)

			// And the unbroken object passes the same dry run.
			y, err = manifests.YAML(objs[i : i+1])
			require.NoError(t, err)
			_, err = k.Run(t.Context(), y, "apply", "--server-side", "--dry-run=server", "--field-manager="+kube.FieldManager, "--force-conflicts", "-f", "-")
			require.NoError(t, err)
		})
	}
}

func spec(o map[string]any) map[string]any { return o["spec"].(map[string]any) }

func indexOf(t *testing.T, objs []manifests.Object, kind string) int {
	t.Helper()
	for i, o := range objs {
		if o.Kind == kind {
			return i
		}
	}
	t.Fatalf("no %s in the overlay", kind)
	return -1
}

func deepCopy(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}
