package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/groundwork-dev/groundwork/internal/dev/devstack"
	"github.com/groundwork-dev/groundwork/internal/dev/webproxy"
)

const root = "../../.."

var (
	renderOnce sync.Map // overlay -> func() ([]Object, error)
)

// rendered renders an overlay once per test binary; each caller gets its
// own copy of the objects.
func rendered(t *testing.T, overlay string) []Object {
	t.Helper()
	f, _ := renderOnce.LoadOrStore(overlay, sync.OnceValues(func() ([]Object, error) {
		return Render(filepath.Join(root, overlay))
	}))
	objs, err := f.(func() ([]Object, error))()
	require.NoError(t, err)
	// Deep copy through YAML so tests that pin or mutate stay independent.
	out := make([]Object, len(objs))
	for i, o := range objs {
		out[i] = o
		out[i].Map = deepCopy(o.Map).(map[string]any)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = deepCopy(v)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, v := range x {
			s[i] = deepCopy(v)
		}
		return s
	default:
		return v
	}
}

func decoded(t *testing.T, overlay string) *Set {
	t.Helper()
	s, err := Decode(rendered(t, overlay))
	require.NoError(t, err)
	return s
}

func TestOverlaysPassEveryCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		overlay    string
		production bool
	}{{DevOverlay, false}, {ProdOverlay, true}} {
		t.Run(filepath.Base(tc.overlay), func(t *testing.T) {
			t.Parallel()
			s := decoded(t, tc.overlay)
			require.NoError(t, Check(s, PolicyFor(tc.production)))
			// Every kind the overlays are made of was decoded into its type.
			require.NotEmpty(t, s.Certificates)
			require.NotEmpty(t, s.ClusterBundles)
			require.NotEmpty(t, s.PGClusters)
			require.NotEmpty(t, s.Jobs)
		})
	}
}

func TestDevIsNotProduction(t *testing.T) {
	t.Parallel()
	// The dev overlay pulls by tag from the local registry and runs one
	// replica: the production policy must refuse it.
	err := Check(decoded(t, DevOverlay), PolicyFor(true))
	require.Error(t, err)
	require.Contains(t, err.Error(), "is not pinned by digest")
	require.Contains(t, err.Error(), "fewer than 2 replicas")
}

// gRPC reflection is the server's default (local development, the dev
// overlay); production turns it off (docs/api.md).
func TestReflectionOffInProductionOnly(t *testing.T) {
	t.Parallel()
	reflection := func(overlay string) string {
		for _, d := range decoded(t, overlay).Deployments {
			if d.Name != "server" {
				continue
			}
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				if e.Name == "GRPC_REFLECTION" {
					return e.Value
				}
			}
			return "unset"
		}
		t.Fatalf("%s has no Deployment server", overlay)
		return ""
	}
	require.Equal(t, "false", reflection(ProdOverlay))
	require.Equal(t, "unset", reflection(DevOverlay))
}

func TestDecodeIsStrict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		obj  Object
		want string
	}{
		{"UnknownField", Object{APIVersion: "apps/v1", Kind: "Deployment", Name: "x", Map: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "x"},
			"spec": map[string]any{"replica": 2},
		}}, `unknown field "replica"`},
		{"UnknownNestedField", Object{APIVersion: "cert-manager.io/v1", Kind: "Certificate", Name: "x", Map: map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": map[string]any{"name": "x"},
			"spec": map[string]any{"secretName": "x", "issuerRef": map[string]any{"name": "a", "kinds": "ClusterIssuer"}},
		}}, `unknown field "kinds"`},
		{"UnknownCNPGField", Object{APIVersion: "postgresql.cnpg.io/v1", Kind: "Cluster", Name: "x", Map: map[string]any{
			"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": map[string]any{"name": "x"},
			"spec": map[string]any{"instances": 1, "postgresql": map[string]any{"pg_hba_conf": []any{}}},
		}}, `unknown field "pg_hba_conf"`},
		{"OldTrustManagerAPI", Object{APIVersion: "trust.cert-manager.io/v1alpha1", Kind: "Bundle", Name: "x", Map: map[string]any{}},
			"has no Go type"},
		{"WrongType", Object{APIVersion: "v1", Kind: "Service", Name: "x", Map: map[string]any{
			"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "x"},
			"spec": map[string]any{"ports": []any{map[string]any{"port": "http"}}},
		}}, "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]Object{tc.obj})
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestCheckFindsProblems breaks the rendered prod overlay in one place at a
// time and expects Check to say so.
func TestCheckFindsProblems(t *testing.T) {
	t.Parallel()
	deployment := func(s *Set, name string) *corev1.PodSpec {
		for _, d := range s.Deployments {
			if d.Name == name {
				return &d.Spec.Template.Spec
			}
		}
		t.Fatalf("no Deployment %s", name)
		return nil
	}
	env := func(spec *corev1.PodSpec, name, value string) {
		for i, e := range spec.Containers[0].Env {
			if e.Name == name {
				spec.Containers[0].Env[i].Value = value
				return
			}
		}
		t.Fatalf("no env %s", name)
	}
	for _, tc := range []struct {
		name   string
		mutate func(s *Set)
		want   string
	}{
		{"CertificateMissing", func(s *Set) {
			s.Certificates = slices.DeleteFunc(s.Certificates, func(c *cmCertificate) bool { return c.Name == "db-server-tls" })
		}, "needs Secret/groundwork/db-server-tls"},
		{"FileNotInSecret", func(s *Set) {
			env(deployment(s, "server"), "GRPC_TLS_KEY", "/etc/groundwork/server-grpc-tls/key.pem")
		}, `needs key "key.pem" of Secret/groundwork/server-grpc-tls`},
		{"FileNotMounted", func(s *Set) {
			env(deployment(s, "server"), "GRPC_CLIENT_CA", "/etc/groundwork/nothing-here/ca.crt")
		}, "uses /etc/groundwork/nothing-here/ca.crt, but no volume is mounted there"},
		{"BundleNotInNamespace", func(s *Set) {
			for _, ns := range s.Namespaces {
				if ns.Name == "groundwork-auth" {
					delete(ns.Labels, "trust.groundwork.dev/postgres-ca")
				}
			}
		}, "needs ConfigMap/groundwork-auth/postgres-ca"},
		{"IssuerMissing", func(s *Set) {
			s.Certificates[len(s.Certificates)-1].Spec.IssuerRef.Name = "nope"
		}, "issuerRef ClusterIssuer nope does not exist"},
		{"ServiceSelectsNothing", func(s *Set) {
			s.Services[0].Spec.Selector = map[string]string{"app.kubernetes.io/name": "nobody"}
		}, "matches no pod template"},
		{"ServiceTargetPortMissing", func(s *Set) {
			for _, svc := range s.Services {
				if svc.Name == "webapp" {
					svc.Spec.Ports[0].TargetPort = intstr.FromInt32(80)
				}
			}
		}, "targets 80, which Deployment/groundwork/webapp does not listen on"},
		{"PolicyPortNotListening", func(s *Set) {
			for _, np := range s.NetworkPolicies {
				if np.Name == "worker" {
					p := intstr.FromInt32(5433)
					np.Spec.Egress[0].Ports[0].Port = &p
				}
			}
		}, "allows egress to port 5433, which none of the destination pods listens on"},
		{"PolicyOneSided", func(s *Set) {
			for _, np := range s.NetworkPolicies {
				if np.Name == "postgres" {
					np.Spec.Ingress[0].From = np.Spec.Ingress[0].From[1:] // drop the server
				}
			}
		}, "no ingress policy of Cluster/groundwork-db/postgres lets it in"},
		{"ImageByTag", func(s *Set) {
			deployment(s, "webapp").Containers[0].Image = "registry.example.com/groundwork/webapp:latest"
		}, "is not pinned by digest"},
		{"WritableRoot", func(s *Set) {
			f := false
			deployment(s, "kratos").Containers[0].SecurityContext.ReadOnlyRootFilesystem = &f
		}, "readOnlyRootFilesystem is not true"},
		{"NoLivenessProbe", func(s *Set) {
			deployment(s, "worker").Containers[0].LivenessProbe = nil
		}, "no liveness probe"},
		{"NoLimits", func(s *Set) {
			deployment(s, "server").Containers[0].Resources.Limits = nil
		}, "no cpu limit"},
		{"RunsAsRoot", func(s *Set) {
			zero := int64(0)
			deployment(s, "server").SecurityContext.RunAsUser = &zero
		}, "runAsUser must be a non-zero uid"},
		{"OneReplica", func(s *Set) {
			one := int32(1)
			s.Deployments[0].Spec.Replicas = &one
		}, "fewer than 2 replicas"},
		{"NoPDB", func(s *Set) { s.PDBs = s.PDBs[1:] }, "no PodDisruptionBudget selects its pods"},
		{"NoDefaultDeny", func(s *Set) {
			s.NetworkPolicies = slices.DeleteFunc(s.NetworkPolicies, func(np *networkPolicy) bool {
				return np.Name == "default-deny" && np.Namespace == "groundwork-db"
			})
		}, "namespace groundwork-db has no default-deny NetworkPolicy"},
		{"RouteChanged", func(s *Set) {
			s.Ingresses[0].Spec.Rules[0].HTTP.Paths[0].Path = "/kratos/"
		}, "differ from the local stack's"},
		{"TwoHosts", func(s *Set) {
			s.Ingresses[0].Spec.Rules[0].Host = "other.example.com"
		}, "several hosts"},
		{"DatabaseRoleIsNotTheCertificatesCN", func(s *Set) {
			spec := deployment(s, "server")
			for i, e := range spec.Containers[0].Env {
				if e.Name == "DATABASE_URL" {
					spec.Containers[0].Env[i].Value = strings.Replace(e.Value, "//server@", "//migrator@", 1)
				}
			}
		}, `the client certificate db-server-tls has CN "server", the role is "migrator"`},
		{"DatabaseHostNotInServerCert", func(s *Set) {
			spec := deployment(s, "worker")
			for i, e := range spec.Containers[0].Env {
				if e.Name == "DATABASE_URL" {
					spec.Containers[0].Env[i].Value = strings.Replace(e.Value, "groundwork-db.svc:", "groundwork-db.svc.cluster:", 1)
				}
			}
		}, "is not in postgres-server-tls's dnsNames"},
		{"KratosDSNNotVerifyFull", func(s *Set) {
			for _, cm := range s.ConfigMaps {
				if strings.HasPrefix(cm.Name, "kratos-env-") {
					cm.Data["DSN"] = strings.Replace(cm.Data["DSN"], "verify-full", "require", 1)
				}
			}
		}, `sslmode is "require", must be verify-full`},
		{"NoHBALine", func(s *Set) {
			hba := s.PGClusters[0].Spec.PostgresConfiguration.PgHBA
			s.PGClusters[0].Spec.PostgresConfiguration.PgHBA = slices.DeleteFunc(hba, func(l string) bool { return strings.Contains(l, "kratos") })
		}, "no `hostssl kratos kratos <addr> cert` line"},
		{"RoleWithPassword", func(s *Set) {
			s.PGClusters[0].Spec.Managed.Roles[1].DisablePassword = false
		}, "must be a managed LOGIN role without a password"},
		{"UnknownUsage", func(s *Set) {
			s.Certificates[len(s.Certificates)-1].Spec.Usages = append(s.Certificates[len(s.Certificates)-1].Spec.Usages, "client-auth")
		}, `usage "client-auth" is not one cert-manager knows`},
		{"PostgresWithoutClientCA", func(s *Set) {
			s.PGClusters[0].Spec.Certificates.ClientCASecret = ""
		}, "no operator-generated CA"},
		// Monitors that would silently scrape nothing.
		{"MonitorWithoutReleaseLabel", func(s *Set) {
			delete(s.ServiceMonitors[0].Labels, ReleaseLabel)
		}, `label release="", want "monitoring"`},
		{"RuleWithoutReleaseLabel", func(s *Set) {
			s.PromRules[0].Labels[ReleaseLabel] = "prometheus"
		}, `label release="prometheus", want "monitoring"`},
		{"MonitorSelectsPodsNotService", func(s *Set) {
			s.ServiceMonitors[0].Spec.Selector.MatchLabels["app.kubernetes.io/component"] = "nothing"
		}, "selects no Service"},
		{"MonitorPortRenamed", func(s *Set) {
			s.ServiceMonitors[0].Spec.Endpoints[0].Port = "http-metrics"
		}, `has no port named "http-metrics"`},
		{"PodMonitorForTheWrongCluster", func(s *Set) {
			for _, pm := range s.PodMonitors {
				if pm.Name == "postgres" {
					pm.Spec.Selector.MatchLabels["cnpg.io/cluster"] = "pg"
				}
			}
		}, "PodMonitor/groundwork-db/postgres: selects no pod"},
		{"ScrapeBlockedByPolicy", func(s *Set) {
			s.NetworkPolicies = slices.DeleteFunc(s.NetworkPolicies, func(np *networkingv1.NetworkPolicy) bool { return np.Name == "monitoring-kratos" })
		}, "keep Prometheus (namespace monitoring) from port metrics"},
		{"AdminAPIOpenedInsteadOfTheSidecar", func(s *Set) {
			for _, sm := range s.ServiceMonitors {
				if sm.Name == "kratos" {
					sm.Spec.Endpoints[0].Port = "admin"
				}
			}
		}, "ServiceMonitor/groundwork-auth/kratos: the NetworkPolicies of Deployment/groundwork-auth/kratos keep Prometheus"},
		{"DashboardLabelWrong", func(s *Set) {
			for _, cm := range s.ConfigMaps {
				if cm.Labels[DashboardLabel] != "" {
					cm.Labels[DashboardLabel] = "true"
				}
			}
		}, `label grafana_dashboard must be "1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := decoded(t, ProdOverlay)
			tc.mutate(s)
			require.ErrorContains(t, Check(s, PolicyFor(true)), tc.want)
		})
	}
}

func TestExternalSecretMustBeUsed(t *testing.T) {
	t.Parallel()
	p := PolicyFor(false)
	p.External = append(p.External, ExternalSecret{Namespace: "groundwork", Name: "stale", Keys: []string{"x"}})
	require.ErrorContains(t, Check(decoded(t, DevOverlay), p), "external Secret Secret/groundwork/stale is listed but nothing uses it")
}

func TestMigrationsCompleteBeforeDeployments(t *testing.T) {
	t.Parallel()
	for _, overlay := range []string{DevOverlay, ProdOverlay} {
		stages := Stages(rendered(t, overlay))
		index := map[string]int{}
		waits := map[string]string{}
		for i, st := range stages {
			for _, o := range st.Objects {
				index[o.Kind+"/"+o.Name] = i
			}
			for _, w := range st.Waits {
				waits[w.Kind+"/"+w.Name] = w.For
			}
		}
		for _, job := range []string{"Job/migrator", "Job/kratos-migrate"} {
			require.Equal(t, "condition=Complete", waits[job], overlay)
			require.Less(t, index["Cluster/postgres"], index[job], "%s: the database before %s", overlay, job)
			for _, d := range []string{"Deployment/server", "Deployment/worker", "Deployment/kratos"} {
				require.Less(t, index[job], index[d], "%s: %s must complete before %s rolls out", overlay, job, d)
			}
		}
		require.Equal(t, Rollout, waits["Deployment/server"])
		for _, st := range stages {
			for _, w := range st.Waits {
				switch w.Kind {
				case "Cluster":
					require.Equal(t, "cluster.postgresql.cnpg.io/postgres", w.Resource())
				case "Deployment":
					require.Equal(t, "deployment/"+w.Name, w.Resource())
				case "ClusterBundle":
					require.Equal(t, "clusterbundle.trust-manager.io/"+w.Name, w.Resource())
				}
			}
		}
		require.Equal(t, StageNamespaces, stages[0].Name)
	}
}

func TestPin(t *testing.T) {
	t.Parallel()
	objs := rendered(t, ProdOverlay)
	ref := "registry.example.com/groundwork/migrator@sha256:" + strings.Repeat("ab", 32)
	require.NoError(t, Pin(objs, map[string]string{"registry.example.com/groundwork/migrator": ref}))
	s, err := Decode(objs)
	require.NoError(t, err)
	var job *batchJob
	for _, j := range s.Jobs {
		if strings.HasPrefix(j.Name, "migrator-") {
			job = j
		}
	}
	require.NotNil(t, job, "the migrator Job is renamed after its template")
	require.Equal(t, ref, job.Spec.Template.Spec.Containers[0].Image)
	require.Len(t, job.Name, len("migrator-")+10)

	// The same inputs give the same name; another image another name.
	again := rendered(t, ProdOverlay)
	require.NoError(t, Pin(again, map[string]string{"registry.example.com/groundwork/migrator": ref}))
	other := rendered(t, ProdOverlay)
	require.NoError(t, Pin(other, map[string]string{"registry.example.com/groundwork/migrator": strings.Replace(ref, "ab", "cd", 1)}))
	names := func(objs []Object) (out []string) {
		for _, o := range objs {
			if o.Kind == "Job" {
				out = append(out, o.Name)
			}
		}
		return out
	}
	require.Equal(t, names(objs), names(again))
	require.NotEqual(t, names(objs), names(other))
	require.NoError(t, Check(s, PolicyFor(true)))
}

func TestRepository(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"groundwork/server":                       "groundwork/server",
		"localhost:5001/groundwork/server:dev":    "localhost:5001/groundwork/server",
		"r.example.com/g/server@sha256:00":        "r.example.com/g/server",
		"r.example.com:443/g/server:v1@sha256:00": "r.example.com:443/g/server",
		"localhost:5001/groundwork/server":        "localhost:5001/groundwork/server",
	} {
		require.Equal(t, want, Repository(in), in)
	}
}

func TestComponent(t *testing.T) {
	t.Parallel()
	objs := Component(rendered(t, DevOverlay), "server")
	var ids []string
	for _, o := range objs {
		ids = append(ids, o.ID())
	}
	require.Contains(t, ids, "Deployment/groundwork/server")
	require.Contains(t, ids, "Deployment/groundwork/worker")
	require.Contains(t, ids, "Certificate/groundwork/server-grpc-tls")
	require.NotContains(t, ids, "Job/groundwork/migrator")
}

// The Ingresses route every path where the local stack's origin
// (internal/dev/webproxy) does, with the same path upstream.
func TestIngressRoutesLikeTheLocalProxy(t *testing.T) {
	t.Parallel()
	paths := []string{
		"/", "/index.html", "/login", "/settings", "/favicon.svg", "/assets/index-abc123.js", "/assets",
		"/api/v1/me", "/api/v1/accounts", "/apix", "/.ory/kratos/public/sessions/whoami",
		"/.ory/kratos/public/self-service/login/browser", "/.ory/kratos/public/", "/.ory/kratos/public",
		"/.ory/kratos/admin/identities", "/.ory/kratos/publicx",
	}
	// Kubernetes's Prefix path type matches /api/ without its trailing
	// slash too: there the Ingress sends /api to the gateway (a 404 from
	// it) where the local proxy serves the webapp's index.html.
	divergent := map[string]bool{"/api": true}
	for _, overlay := range []string{DevOverlay, ProdOverlay} {
		routes, problems := decoded(t, overlay).Routes()
		require.Empty(t, problems)
		for _, path := range append(paths, "/api") {
			best := -1
			for i, r := range routes {
				if _, ok := r.Forward(path); ok && (best < 0 || len(r.Prefix) > len(routes[best].Prefix)) {
					best = i
				}
			}
			require.GreaterOrEqual(t, best, 0, path)
			gotPath, _ := routes[best].Forward(path)
			got := routes[best].Service + " " + gotPath

			local := webproxy.Match(path)
			b := Backends[local.Target]
			upstream := path
			if local.Strip {
				upstream = "/" + strings.TrimPrefix(path, local.Prefix)
			}
			want := b.Service + " " + upstream
			if divergent[path] {
				require.NotEqual(t, want, got, "%s: %s is listed as divergent but routes alike", overlay, path)
				continue
			}
			require.Equal(t, want, got, "%s: %s", overlay, path)
		}
	}
}

// webapp/nginx's upstreams (proxy_pass http://NAME:PORT) are Services of
// the webapp's namespace with that port.
func TestNginxUpstreamsAreServices(t *testing.T) {
	t.Parallel()
	confs, err := filepath.Glob(filepath.Join(root, "webapp/nginx/*.conf"))
	require.NoError(t, err)
	require.NotEmpty(t, confs, "webapp/nginx/*.conf: the webapp image's nginx configuration is missing")
	s := decoded(t, ProdOverlay)
	ports := map[string]bool{}
	for _, svc := range s.Services {
		if svc.Namespace == "groundwork" {
			for _, p := range svc.Spec.Ports {
				ports[fmt.Sprintf("%s:%d", svc.Name, p.Port)] = true
			}
		}
	}
	re := regexp.MustCompile(`proxy_pass\s+http://([a-z0-9.-]+:[0-9]+)`)
	found := 0
	for _, c := range confs {
		b, err := os.ReadFile(c)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			found++
			require.True(t, ports[m[1]], "%s proxies to %s, which is no Service port in namespace groundwork", c, m[1])
		}
	}
	require.NotZero(t, found)
}

// The Kratos ConfigMap is made from the repository's own files (the ones
// the local stack runs with), byte for byte.
func TestKratosConfigIsTheRepositorysFiles(t *testing.T) {
	t.Parallel()
	s := decoded(t, DevOverlay)
	var data map[string]string
	for _, cm := range s.ConfigMaps {
		if strings.HasPrefix(cm.Name, "kratos-config-") {
			data = cm.Data
		}
	}
	require.NotNil(t, data)
	for _, f := range []string{"kratos.yml", "identity.schema.json", "identity-hook.yml", "identity-hook.jsonnet"} {
		b, err := os.ReadFile(filepath.Join(root, "k8s/base/kratos", f))
		require.NoError(t, err)
		require.Equal(t, string(b), data[f], f)
	}
}

// The operator versions file and the Go API types the manifests are
// checked against name the same versions.
func TestOperatorVersionsMatchGoModules(t *testing.T) {
	t.Parallel()
	ops, err := LoadOperators(filepath.Join(root, OperatorsFile))
	require.NoError(t, err)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	mods := map[string]string{}
	for line := range strings.SplitSeq(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], "v") {
			mods[f[0]] = f[1]
		}
	}
	want := map[string]string{
		"cert-manager":   mods["github.com/cert-manager/cert-manager"],
		"trust-manager":  mods["github.com/cert-manager/trust-manager"],
		"cloudnative-pg": mods["github.com/cloudnative-pg/api"],
	}
	seen := map[string]bool{}
	for _, o := range ops {
		seen[o.Name] = true
		if v, ok := want[o.Name]; ok {
			require.Equal(t, v, o.Version, "%s in %s and go.mod", o.Name, OperatorsFile)
		}
		if o.Manifest != "" {
			require.Contains(t, o.Manifest, strings.TrimPrefix(o.Version, "v"), "%s: the URL names the version", o.Name)
			require.Contains(t, o.Git.Tag, strings.TrimPrefix(o.Version, "v"), "%s: the Git tag is the version's", o.Name)
		}
	}
	for _, n := range []string{"cert-manager", "trust-manager", "cloudnative-pg", "ingress-nginx"} {
		require.True(t, seen[n], n)
	}
}

func TestLoadOperatorsRejectsBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown-field": "operators:\n  - name: a\n    version: v1\n    namespace: n\n    manifest: u\n    chart2: x\n",
		"both":          "operators:\n  - name: a\n    version: v1\n    namespace: n\n    manifest: u\n    chart: c\n",
		"no-version":    "operators:\n  - name: a\n    namespace: n\n    manifest: u\n",
		"no-git":        "operators:\n  - name: a\n    version: v1\n    namespace: n\n    manifest: u\n",
		"chart-git":     "operators:\n  - name: a\n    version: v1\n    namespace: n\n    chart: c\n    git: {url: https://h/r, tag: v1, path: f.yaml}\n",
		"git-escapes":   "operators:\n  - name: a\n    version: v1\n    namespace: n\n    manifest: u\n    git: {url: https://h/r, tag: v1, path: ../f.yaml}\n",
		"git-plain":     "operators:\n  - name: a\n    version: v1\n    namespace: n\n    manifest: u\n    git: {url: http://h/r, tag: v1, path: f.yaml}\n",
		"set-syntax":    "operators:\n  - name: a\n    version: v1\n    namespace: n\n    chart: c\n    helmValues: {\"a[0]\": x}\n",
		"depends-later": "operators:\n  - name: a\n    version: v1\n    namespace: n\n    chart: c\n    dependsOn: [b]\n  - name: b\n    version: v1\n    namespace: n\n    chart: c\n",
		"depends-kind":  "operators:\n  - name: b\n    version: v1\n    namespace: n\n    manifest: u\n    git: {url: https://h/r, tag: v1, path: f.yaml}\n  - name: a\n    version: v1\n    namespace: n\n    chart: c\n    dependsOn: [b]\n",
	} {
		p := filepath.Join(dir, name+".yaml")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		_, err := LoadOperators(p)
		require.Error(t, err, name)
	}
}

// Every external Secret is documented with the command that creates it.
func TestExternalSecretsAreDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(root, "docs/kubernetes.md"))
	require.NoError(t, err)
	doc := string(b)
	for _, e := range External {
		found := false
		for line := range strings.SplitSeq(doc, "\n") {
			if strings.Contains(line, "kubectl -n "+e.Namespace+" create secret") && strings.Contains(line, " "+e.Name+" ") {
				found = true
				for _, k := range e.Keys {
					if !strings.Contains(line, k) {
						found = false
					}
				}
			}
		}
		require.True(t, found, "docs/kubernetes.md has no `kubectl -n %s create secret ... %s ...` line naming keys %v", e.Namespace, e.Name, e.Keys)
	}
}

// Kratos runs with --dev (cookies without Secure, for the plain-HTTP local
// origin) in the Kind cluster only.
func TestKratosDevModeOnlyInKind(t *testing.T) {
	t.Parallel()
	for overlay, want := range map[string]bool{DevOverlay: true, ProdOverlay: false} {
		for _, d := range decoded(t, overlay).Deployments {
			if d.Name == "kratos" {
				require.Equal(t, want, slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--dev"), overlay)
			}
		}
	}
}

func TestServerRuntimeSettingsAreTheLocalStacks(t *testing.T) {
	t.Parallel()
	for _, overlay := range []string{DevOverlay, ProdOverlay} {
		found := false
		for _, d := range decoded(t, overlay).Deployments {
			if d.Name != "server" {
				continue
			}
			found = true
			var godebug string
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				if e.Name == "GODEBUG" {
					godebug = e.Value
				}
			}
			require.Equal(t, devstack.ServerRuntimeSettings, godebug, "%s: the API server's GODEBUG", overlay)
		}
		require.True(t, found, "%s has the server Deployment", overlay)
	}
}

// The local control plane's CRDs are those of the operators a cluster
// runs, and the monitors carry the label of the Prometheus kind:up
// installs.
func TestCRDsAndMonitoringMatchTheOperators(t *testing.T) {
	t.Parallel()
	ops, err := LoadOperators(filepath.Join(root, OperatorsFile))
	require.NoError(t, err)
	crds, err := LoadCRDSources(filepath.Join(root, OperatorsFile))
	require.NoError(t, err)
	crdVersion := map[string]string{}
	for _, c := range crds {
		crdVersion[c.Name] = c.Version
	}
	byName := map[string]Operator{}
	for _, o := range ops {
		byName[o.Name] = o
	}
	for op, crd := range map[string]string{
		"cert-manager": "cert-manager", "trust-manager": "trust-manager", "cloudnative-pg": "cloudnative-pg",
		"kube-prometheus-stack": "prometheus-operator",
	} {
		o, ok := byName[op]
		require.True(t, ok, op)
		v := o.Version
		if o.AppVersion != "" {
			v = o.AppVersion
		}
		require.Equal(t, v, crdVersion[crd], "%s runs %s, the control plane's %s CRDs are %s", op, v, crd, crdVersion[crd])
	}
	kps := byName["kube-prometheus-stack"]
	require.Equal(t, MonitoringRelease, kps.Release, "the release label of the monitors is the Helm release's name")
	require.Equal(t, MonitoringNamespace, kps.Namespace)
	b, err := os.ReadFile(filepath.Join(root, "k8s/base/monitoring/kustomization.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(b), "      "+ReleaseLabel+": "+MonitoringRelease+"\n")
}
