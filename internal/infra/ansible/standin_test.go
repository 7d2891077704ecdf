package ansible

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// What the offline run installs instead of the real packages: pkgs.k8s.io
// and Docker's repository are out of reach here, and a real kubelet or
// containerd cannot run in a chroot anyway. Each stand-in is a real Debian
// package (dpkg-deb) with the real one's name, version scheme, dependencies
// and unit files; its programs are shell scripts that record every call in
// /var/log/standin/calls and act out just enough of the real program for
// the playbooks' guards (kubeadm init writes admin.conf, kubectl diff
// compares with what kubectl apply stored).

// debPackage is a stand-in package.
type debPackage struct {
	Name, Version string
	Depends       []string
	Files         map[string]string // path → content; under a bin/ directory executable
	Conffiles     []string
}

// recordCall is the first lines of every stand-in program: the call with
// the time in nanoseconds, to order calls across machines.
func recordCall(name string) string {
	return `#!/bin/sh
# Stand-in for ` + name + ` (offline Ansible test): records each call.
mkdir -p /var/log/standin
printf '%s %s\n' "$(date +%s%N)" "` + name + ` $*" >> /var/log/standin/calls
`
}

// Made-up credentials in the real formats, for the join configuration.
const (
	standInToken   = "abcdef.0123456789abcdef"
	standInCAHash  = "sha256:2c5f56dce1a1bbbd4f8d2e1c9e7b1e9e66e3a5c1f1b0c9f9d47b4f0b8a0c1d2e"
	standInCertKey = "4b1d5c0ffee0ddba11b0a7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7"
)

// kubeadmScript acts out kubeadm for the calls the playbooks make and fails
// on any other.
func kubeadmScript() string {
	return recordCall("kubeadm") + `set -e
node=$(cat /etc/standin-node)
case "$1 $2" in
"config validate") cp "$4" "/var/log/standin/validated-$(basename "$4")" ;;
"init --config")
	cp "$3" /var/log/standin/init.yaml
	mkdir -p /etc/kubernetes/manifests /etc/kubernetes/pki
	cat > /etc/kubernetes/admin.conf <<'KUBECONFIG'
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: c3RhbmQtaW4gY2E=
    server: https://10.20.0.200:6443
  name: stand-in
contexts:
- context:
    cluster: stand-in
    user: kubernetes-admin
  name: kubernetes-admin@stand-in
current-context: kubernetes-admin@stand-in
users:
- name: kubernetes-admin
  user:
    client-certificate-data: c3RhbmQtaW4gY2VydA==
    client-key-data: c3RhbmQtaW4ga2V5
KUBECONFIG
	touch /etc/kubernetes/kubelet.conf ;;
"token create") echo "kubeadm join 10.20.0.200:6443 --token ` + standInToken + ` --discovery-token-ca-cert-hash ` + standInCAHash + `" ;;
"init phase")
	echo "[upload-certs] Storing the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace"
	echo "[upload-certs] Using certificate key:"
	echo "` + standInCertKey + `" ;;
"join --config") cp "$3" "/var/log/standin/join.yaml"; touch /etc/kubernetes/kubelet.conf ;;
"reset --force") rm -rf /etc/kubernetes/*.conf /etc/kubernetes/pki /var/lib/standin/applied ;;
"upgrade apply"|"upgrade node") ;;
*) echo "kubeadm stand-in on $node: unexpected call: $*" >&2; exit 2 ;;
esac
`
}

// kubectlScript acts out the API server for kubectl diff and apply: diff
// reports a difference until the same file has been applied.
func kubectlScript() string {
	return recordCall("kubectl") + `set -e
f=""; prev=""
for a in "$@"; do [ "$prev" = "-f" ] && f="$a"; prev="$a"; done
state=/var/lib/standin/applied
case "$3" in
diff)
	sum=$(sha256sum "$f" | cut -d' ' -f1)
	if [ -f "$state/$(basename "$f")" ] && [ "$(cat "$state/$(basename "$f")")" = "$sum" ]; then exit 0; fi
	echo "stand-in: $f differs from the cluster"; exit 1 ;;
apply) mkdir -p "$state"; sha256sum "$f" | cut -d' ' -f1 > "$state/$(basename "$f")" ;;
wait|drain|uncordon) ;;
*) echo "kubectl stand-in: unexpected call: $*" >&2; exit 2 ;;
esac
`
}

func unit(name, exec string) string {
	return "[Unit]\nDescription=" + name + " (stand-in)\n\n[Service]\nExecStart=" + exec + "\n\n[Install]\nWantedBy=multi-user.target\n"
}

// kubernetesPackages are stand-ins for pkgs.k8s.io's packages of one
// release, e.g. 1.34.2-1.1.
func kubernetesPackages(version string) []debPackage {
	return []debPackage{
		{Name: "kubeadm", Version: version, Depends: []string{"kubelet", "kubectl", "cri-tools"},
			Files: map[string]string{"/usr/bin/kubeadm": kubeadmScript()}},
		{Name: "kubelet", Version: version, Depends: []string{"kubernetes-cni"},
			Files: map[string]string{"/usr/bin/kubelet": recordCall("kubelet"), "/lib/systemd/system/kubelet.service": unit("kubelet", "/usr/bin/kubelet")}},
		{Name: "kubectl", Version: version, Files: map[string]string{"/usr/bin/kubectl": kubectlScript()}},
		{Name: "cri-tools", Version: "1.34.0-1.1", Files: map[string]string{"/usr/bin/crictl": recordCall("crictl")}},
		{Name: "kubernetes-cni", Version: "1.7.1-1.1", Files: map[string]string{"/opt/cni/bin/loopback": recordCall("loopback")}},
	}
}

// containerdPackage stands in for Docker's containerd.io, including its
// conffile that disables the CRI plugin (the role must replace it).
func containerdPackage(version string) debPackage {
	return debPackage{Name: "containerd.io", Version: version, Conffiles: []string{"/etc/containerd/config.toml"},
		Files: map[string]string{
			"/usr/bin/containerd":                    recordCall("containerd"),
			"/lib/systemd/system/containerd.service": unit("containerd", "/usr/bin/containerd"),
			"/etc/containerd/config.toml":            "disabled_plugins = [\"cri\"]\n",
		}}
}

// buildDeb builds p into dir with dpkg-deb.
func buildDeb(t *testing.T, dir string, p debPackage) {
	t.Helper()
	tree := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(tree, "DEBIAN"), 0o755))
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: Groundwork test <test@groundwork.invalid>\nDescription: stand-in for %s in the offline Ansible test\n", p.Name, p.Version, p.Name)
	if len(p.Depends) > 0 {
		control += "Depends: " + strings.Join(p.Depends, ", ") + "\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(tree, "DEBIAN", "control"), []byte(control), 0o644))
	if len(p.Conffiles) > 0 {
		require.NoError(t, os.WriteFile(filepath.Join(tree, "DEBIAN", "conffiles"), []byte(strings.Join(p.Conffiles, "\n")+"\n"), 0o644))
	}
	for path, content := range p.Files {
		mode := os.FileMode(0o644)
		if strings.Contains(path, "/bin/") {
			mode = 0o755
		}
		full := filepath.Join(tree, path)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), mode))
	}
	out := filepath.Join(dir, fmt.Sprintf("%s_%s_amd64.deb", p.Name, p.Version))
	b, err := exec.CommandContext(t.Context(), "dpkg-deb", "--root-owner-group", "--build", tree, out).CombinedOutput()
	require.NoError(t, err, "dpkg-deb: %s", b)
}

// signer signs repositories with a key made for the test, as the real
// repositories are signed: apt checks InRelease against the key the roles
// download (signed-by).
type signer struct {
	home string
}

func newSigner(t *testing.T) signer {
	t.Helper()
	// gpg-agent's socket path must stay short: not under t.TempDir().
	home, err := os.MkdirTemp("", "gpg")
	require.NoError(t, err)
	s := signer{home: home}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		_ = os.RemoveAll(home)
	})
	s.gpg(t, "--quick-generate-key", "Groundwork test repository <test@groundwork.invalid>", "ed25519", "sign", "never")
	return s
}

func (s signer) gpg(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "gpg", append([]string{"--homedir", s.home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
	out, err := cmd.Output()
	require.NoError(t, err, "gpg %v: %s", args, stderrOf(err))
	return out
}

// sign writes dir/Release (fields, then the hashes of the index files,
// relative to dir) and its signed forms InRelease and Release.gpg.
func (s signer) sign(t *testing.T, dir string, fields string, indexes ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(fields)
	fmt.Fprintf(&b, "Date: %s\nSHA256:\n", time.Now().UTC().Format(time.RFC1123))
	for _, idx := range indexes {
		data, err := os.ReadFile(filepath.Join(dir, idx))
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, " %s %d %s\n", hex.EncodeToString(sum[:]), len(data), idx)
	}
	release := filepath.Join(dir, "Release")
	require.NoError(t, os.WriteFile(release, []byte(b.String()), 0o644))
	s.gpg(t, "--yes", "--clearsign", "-o", filepath.Join(dir, "InRelease"), release)
	s.gpg(t, "--yes", "--detach-sign", "--armor", "-o", filepath.Join(dir, "Release.gpg"), release)
}

func (s signer) publicKey(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, s.gpg(t, "--armor", "--export"), 0o644))
}

// scanPackages writes root/index, the Packages index of the .deb files
// under root/sub with paths relative to root.
func scanPackages(t *testing.T, root, sub, index string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "dpkg-scanpackages", "--multiversion", sub, "/dev/null")
	cmd.Dir = root
	out, err := cmd.Output()
	require.NoError(t, err, "dpkg-scanpackages: %s", stderrOf(err))
	require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, index)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, index), out, 0o644))
}

// flatRepository lays out pkgs.k8s.io's form in dir: a flat repository
// ("deb URL /") with Release.key beside InRelease.
func flatRepository(t *testing.T, s signer, dir string, pkgs []debPackage) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, p := range pkgs {
		buildDeb(t, dir, p)
	}
	scanPackages(t, dir, ".", "Packages")
	s.sign(t, dir, "Origin: groundwork-test\nLabel: stand-in pkgs.k8s.io\nArchitectures: amd64\n", "Packages")
	s.publicKey(t, filepath.Join(dir, "Release.key"))
}

// suiteRepository lays out Docker's form in dir: dists/<suite>/<component>
// with a pool, and the key as dir/gpg.
func suiteRepository(t *testing.T, s signer, dir, suite, component string, pkgs []debPackage) {
	t.Helper()
	pool := filepath.Join(dir, "pool", component)
	require.NoError(t, os.MkdirAll(pool, 0o755))
	for _, p := range pkgs {
		buildDeb(t, pool, p)
	}
	scanPackages(t, dir, "pool", filepath.Join("dists", suite, component, "binary-amd64", "Packages"))
	s.sign(t, filepath.Join(dir, "dists", suite),
		fmt.Sprintf("Origin: groundwork-test\nLabel: stand-in containerd\nSuite: %s\nCodename: %s\nArchitectures: amd64\nComponents: %s\n", suite, suite, component),
		component+"/binary-amd64/Packages")
	s.publicKey(t, filepath.Join(dir, "gpg"))
}

// repoServer serves a directory over HTTP on the loopback interface (a
// chroot shares the host's network) and remembers the paths asked for.
type repoServer struct {
	URL string
	mu  sync.Mutex
	got []string
}

func serveRepositories(t *testing.T, dir string) *repoServer {
	t.Helper()
	rs := &repoServer{}
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.got = append(rs.got, r.URL.Path)
		rs.mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rs.URL = srv.URL
	return rs
}

func (rs *repoServer) requested(path string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Contains(rs.got, path)
}
