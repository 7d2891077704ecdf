package ansible

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/groundwork-dev/groundwork/internal/infra/rootfs"
	"github.com/groundwork-dev/groundwork/internal/shared/toolbuild"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
)

const root = "../../.."

// The pins of ansible/group_vars/all/main.yml the stand-ins are built at.
const (
	k8sPackageVersion = "1.34.2-1.1"
	containerdVersion = "2.3.0-1"
	// The release the upgrade step moves to, served from its own minor
	// release's repository as pkgs.k8s.io does.
	nextK8sVersion = "1.35.0"
)

// node is one machine of the offline cluster: a copy of the Debian root
// filesystem reached through Ansible's chroot connection.
type node struct {
	Name, Group, IP, Root string
}

// chrootCluster is everything TestSiteInChroot runs against.
type chrootCluster struct {
	Nodes     []node
	Inventory string // the inventory directory
	Repos     *repoServer
	Kubeadm   string // the real kubeadm, for config validate
	Local     string // the operator's machine's kubeconfig path
}

// requireChroot skips unless the run can chroot and has the programs the
// stand-ins and the roles need.
func requireChroot(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (chroot)")
	}
	for _, p := range []string{"ansible-playbook", "debootstrap", "dpkg-deb", "dpkg-scanpackages", "gpg"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 && !sysdeps.Ansible().Installed() {
		missing = append(missing, "Ansible's community.general collection (apt-get install ansible)")
	}
	if len(missing) == 0 {
		return
	}
	msg := "the roles' offline run needs " + strings.Join(missing, ", ") + " (go tool mage test installs the packages when run as root)"
	if os.Getenv("GROUNDWORK_REQUIRE_ANSIBLE_CHROOT") == "1" {
		t.Fatal(msg + "; GROUNDWORK_REQUIRE_ANSIBLE_CHROOT=1 makes this a failure")
	}
	t.Skip(msg + "; set GROUNDWORK_REQUIRE_ANSIBLE_CHROOT=1 to make this a failure")
}

// newChrootCluster makes three machines (two control planes, one worker)
// from the cached root filesystem, the stand-in repositories, and the
// inventory that points the roles at them.
func newChrootCluster(t *testing.T) *chrootCluster {
	t.Helper()
	ctx := t.Context()
	kubeadm, err := toolbuild.Ensure(ctx, root, toolbuild.Kubeadm, io.Discard)
	require.NoError(t, err)
	archive, err := rootfs.Ensure(ctx, rootfs.Bookworm, io.Discard)
	require.NoError(t, err)

	dir := t.TempDir()
	c := &chrootCluster{Kubeadm: kubeadm, Inventory: filepath.Join(dir, "inventory"), Local: filepath.Join(dir, "operator", "kubeconfig")}
	c.Nodes = []node{
		{Name: "cp-1", Group: "control_plane", IP: "10.20.0.10"},
		{Name: "cp-2", Group: "control_plane", IP: "10.20.0.11"},
		{Name: "worker-1", Group: "workers", IP: "10.20.0.20"},
	}
	for i := range c.Nodes {
		n := &c.Nodes[i]
		n.Root = filepath.Join(dir, n.Name)
		require.NoError(t, rootfs.Extract(ctx, archive, n.Root))
		// Hermetic: only the stand-in repositories, never Debian's archive.
		require.NoError(t, os.WriteFile(filepath.Join(n.Root, "etc/apt/sources.list"), nil, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(n.Root, "etc/standin-node"), []byte(n.Name+"\n"), 0o644))
		// A swap line as cloud images have, for node_prep to comment out.
		require.NoError(t, os.WriteFile(filepath.Join(n.Root, "etc/fstab"), []byte("/dev/vda1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n"), 0o644))
	}

	repos := filepath.Join(dir, "repos")
	s := newSigner(t)
	flatRepository(t, s, filepath.Join(repos, "core:/stable:/v1.34/deb"), kubernetesPackages(k8sPackageVersion))
	flatRepository(t, s, filepath.Join(repos, "core:/stable:/v1.35/deb"), kubernetesPackages(nextK8sVersion+"-1.1"))
	suiteRepository(t, s, filepath.Join(repos, "docker"), "bookworm", "stable", []debPackage{containerdPackage(containerdVersion)})
	require.NoError(t, os.MkdirAll(filepath.Join(repos, "calico"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(repos, "calico", "tigera-operator.yaml"), []byte("# stand-in for the Tigera operator's manifest\n"), 0o644))
	c.Repos = serveRepositories(t, repos)

	c.writeInventory(t)
	return c
}

func (c *chrootCluster) writeInventory(t *testing.T) {
	t.Helper()
	groups := map[string]map[string]any{"control_plane": {}, "workers": {}}
	for _, n := range c.Nodes {
		groups[n.Group][n.Name] = map[string]string{"ansible_host": n.Root, "node_ip": n.IP}
	}
	inv := map[string]any{"all": map[string]any{
		"children": map[string]any{"cluster": map[string]any{"children": map[string]any{
			"control_plane": map[string]any{"hosts": groups["control_plane"]},
			"workers":       map[string]any{"hosts": groups["workers"]},
		}}},
		// What infra:inventory writes.
		"vars": map[string]string{"cluster_name": "groundwork-test", "api_endpoint": "10.20.0.200:6443", "api_public_address": "198.51.100.20"},
	}}
	// An environment's overrides, where docs/cluster.md says to put them:
	// inventory group_vars of group cluster outrank ansible/group_vars/all.
	overrides := map[string]any{
		"ansible_connection":           "community.general.chroot",
		"node_running_system":          false,
		"kubernetes_apt_repo_url":      c.Repos.URL + "/core:/stable:/v{{ kubernetes_minor }}/deb/",
		"containerd_apt_repo_url":      c.Repos.URL + "/docker",
		"containerd_apt_key_url":       c.Repos.URL + "/docker/gpg",
		"calico_operator_manifest_url": c.Repos.URL + "/calico/tigera-operator.yaml",
		"kubeconfig_local_path":        c.Local,
	}
	require.NoError(t, os.MkdirAll(filepath.Join(c.Inventory, "group_vars"), 0o755))
	for path, v := range map[string]any{"hosts.yml": inv, "group_vars/cluster.yml": overrides} {
		b, err := yaml.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(c.Inventory, path), b, 0o644))
	}
}

// playResult is what Ansible's json callback reports of a run.
type playResult struct {
	Plays []struct {
		Tasks []struct {
			Task struct {
				Name string `json:"name"`
			} `json:"task"`
			Hosts map[string]struct {
				Changed bool   `json:"changed"`
				Skipped bool   `json:"skipped"`
				Failed  bool   `json:"failed"`
				Msg     any    `json:"msg"`
				Stderr  string `json:"stderr"`
				Results []struct {
					Failed bool `json:"failed"`
					Msg    any  `json:"msg"`
				} `json:"results"` // of a loop
			} `json:"hosts"`
		} `json:"tasks"`
	} `json:"plays"`
	Stats map[string]struct {
		Changed     int `json:"changed"`
		Failures    int `json:"failures"`
		Unreachable int `json:"unreachable"`
		Skipped     int `json:"skipped"`
	} `json:"stats"`
}

// skipped is the names of the tasks each host skipped.
func (r playResult) skipped() map[string][]string {
	out := map[string][]string{}
	for _, p := range r.Plays {
		for _, task := range p.Tasks {
			for h, res := range task.Hosts {
				if res.Skipped {
					out[h] = append(out[h], task.Task.Name)
				}
			}
		}
	}
	return out
}

// changed is "host: task" for every task that reported a change.
func (r playResult) changed() []string {
	var out []string
	for _, p := range r.Plays {
		for _, task := range p.Tasks {
			for h, res := range task.Hosts {
				if res.Changed {
					out = append(out, h+": "+task.Task.Name)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// playFails runs a playbook that is expected to fail and returns its
// failed tasks' messages and whether it failed.
func (c *chrootCluster) playFails(t *testing.T, playbook string, extra ...string) (string, bool) {
	t.Helper()
	r, err := c.run(t, playbook, extra...)
	return strings.Join(r.failures(), "\n"), err != nil
}

// play runs a playbook from ansible/ (ansible.cfg applies) on the offline
// cluster with the json callback; a failed run fails the test with the
// failed tasks' messages.
func (c *chrootCluster) play(t *testing.T, playbook string, extra ...string) playResult {
	t.Helper()
	r, err := c.run(t, playbook, extra...)
	require.Empty(t, r.failures(), "ansible-playbook %s failed", playbook)
	require.NoError(t, err, "ansible-playbook %s", playbook)
	return r
}

// run runs ansible-playbook with the json callback and returns its report.
func (c *chrootCluster) run(t *testing.T, playbook string, extra ...string) (playResult, error) {
	t.Helper()
	args := append([]string{"-i", c.Inventory}, extra...)
	cmd := exec.CommandContext(t.Context(), "ansible-playbook", append(args, playbook)...)
	cmd.Dir = filepath.Join(root, "ansible")
	cmd.Env = append(os.Environ(), "ANSIBLE_STDOUT_CALLBACK=ansible.posix.json", "ANSIBLE_NOCOLOR=1",
		"ANSIBLE_HOME="+filepath.Join(t.TempDir(), "ansible-home"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var r playResult
	require.NoError(t, json.Unmarshal(out, &r), "ansible-playbook %s printed no json (%v): %s", playbook, err, stderr.String())
	if err != nil {
		err = fmt.Errorf("%w: %s", err, stderr.String())
	}
	return r, err
}

// failures are the failed tasks as "host: task: message".
func (r playResult) failures() []string {
	var out []string
	for _, p := range r.Plays {
		for _, task := range p.Tasks {
			for h, res := range task.Hosts {
				if !res.Failed {
					continue
				}
				out = append(out, fmt.Sprintf("%s: %s: %v %s", h, task.Task.Name, res.Msg, res.Stderr))
				for _, item := range res.Results {
					if item.Failed {
						out = append(out, fmt.Sprintf("%s: %s: %v", h, task.Task.Name, item.Msg))
					}
				}
			}
		}
	}
	return out
}

// call is one call a stand-in recorded.
type call struct {
	At   int64 // nanoseconds since the epoch
	Node string
	Line string // program and arguments
}

// timedCalls is what the stand-ins recorded on n, in order.
func (n node) timedCalls(t *testing.T) []call {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.Root, "var/log/standin/calls"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []call
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		at, line, ok := strings.Cut(l, " ")
		require.True(t, ok, l)
		c := call{Node: n.Name, Line: line}
		_, err := fmt.Sscan(at, &c.At)
		require.NoError(t, err, l)
		out = append(out, c)
	}
	return out
}

// calls is the program and arguments of each call recorded on n.
func (n node) calls(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, c := range n.timedCalls(t) {
		out = append(out, c.Line)
	}
	return out
}

// callsSince is every call recorded on any of the machines after the
// first skip[node] calls, in the order they were made, as "node: call".
func callsSince(t *testing.T, nodes []node, skip map[string]int, prefixes ...string) []string {
	t.Helper()
	var all []call
	for _, n := range nodes {
		all = append(all, n.timedCalls(t)[skip[n.Name]:]...)
	}
	slices.SortStableFunc(all, func(a, b call) int { return int(a.At - b.At) })
	var out []string
	for _, c := range all {
		for _, p := range prefixes {
			if strings.HasPrefix(c.Line, p) {
				out = append(out, c.Node+": "+c.Line)
				break
			}
		}
	}
	return out
}

// callCounts is how many calls each machine has recorded so far.
func callCounts(t *testing.T, nodes []node) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, n := range nodes {
		out[n.Name] = len(n.timedCalls(t))
	}
	return out
}

func (n node) file(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.Root, path))
	require.NoError(t, err)
	return string(b)
}

// chroot runs a command inside n.
func (n node) chroot(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "chroot", append([]string{n.Root}, args...)...).CombinedOutput()
	require.NoError(t, err, "chroot %s %v: %s", n.Name, args, out)
	return string(out)
}

// validate runs the real kubeadm's config validate on a configuration a
// stand-in recorded.
func (c *chrootCluster) validate(t *testing.T, path string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), c.Kubeadm, "config", "validate", "--config", path).CombinedOutput()
	require.NoError(t, err, "kubeadm config validate %s: %s", path, out)
}

// The playbooks really run on three Debian machines (chroots of the cached
// root filesystem; docs/cluster.md "How it is tested"), one step after the
// other as an operator would: site.yml twice, upgrade.yml to the next
// release, reset.yml, and site.yml again on the reset machines.
func TestPlaybooksInChroot(t *testing.T) {
	requireChroot(t)
	c := newChrootCluster(t)
	for _, step := range []struct {
		name string
		run  func(*testing.T)
	}{{"site", c.testSite}, {"upgrade", c.testUpgrade}, {"reset", c.testReset}} {
		if !t.Run(step.name, step.run) {
			return // each step starts from where the one before left the machines
		}
	}
}

// site.yml: the packages from signed repositories at the pinned versions
// and held, containerd configured for the kubelet, the node's kernel
// settings written; kubeadm init once on the first control plane with a
// configuration the real kubeadm accepts, the second control plane and the
// worker joined, Calico applied, the kubeconfig copied. Only the switch's
// tasks are skipped. A second run changes nothing and calls no kubeadm
// init, join or token, nor kubectl apply.
func (c *chrootCluster) testSite(t *testing.T) {
	first := c.play(t, "site.yml")
	for _, n := range c.Nodes {
		require.Zero(t, first.Stats[n.Name].Failures, n.Name)
		require.Positive(t, first.Stats[n.Name].Changed, n.Name)
	}

	// Exactly the tasks behind node_running_system, on every machine.
	switched := []string{
		"node_prep : Turn swap off now (the kubelet refuses to start with swap on)",
		"node_prep : Load the kernel modules now",
		"node_prep : Apply the kernel settings", // handler
		"containerd : Start containerd now and at boot",
		"containerd : Restart containerd", // handler
		"kube_packages : Start the kubelet at boot (it waits for kubeadm's configuration)",
	}
	for _, n := range c.Nodes {
		require.ElementsMatch(t, switched, first.skipped()[n.Name], "tasks %s skipped on the first run", n.Name)
	}

	for _, n := range c.Nodes {
		// Packages at the pins, held.
		for _, p := range []string{"kubeadm", "kubelet", "kubectl"} {
			require.Equal(t, k8sPackageVersion, n.chroot(t, "dpkg-query", "-W", "-f=${Version}", p), "%s on %s", p, n.Name)
		}
		require.Equal(t, containerdVersion, n.chroot(t, "dpkg-query", "-W", "-f=${Version}", "containerd.io"))
		require.ElementsMatch(t, []string{"containerd.io", "kubeadm", "kubectl", "kubelet"}, strings.Fields(n.chroot(t, "apt-mark", "showhold")))
		require.Contains(t, n.file(t, "etc/apt/sources.list.d/kubernetes.list"),
			"deb [signed-by=/etc/apt/keyrings/kubernetes.asc] "+c.Repos.URL+"/core:/stable:/v1.34/deb/ /")

		// containerd: the package's conffile replaced, systemd cgroups.
		var cfg struct {
			Version int            `toml:"version"`
			Plugins map[string]any `toml:"plugins"`
		}
		_, err := toml.Decode(n.file(t, "etc/containerd/config.toml"), &cfg)
		require.NoError(t, err)
		require.Equal(t, 3, cfg.Version)
		runc := cfg.Plugins["io.containerd.cri.v1.runtime"].(map[string]any)["containerd"].(map[string]any)["runtimes"].(map[string]any)["runc"].(map[string]any)
		require.Equal(t, true, runc["options"].(map[string]any)["SystemdCgroup"])
		require.NotContains(t, n.file(t, "etc/containerd/config.toml"), "disabled_plugins")

		// The node's kernel settings for the next boot.
		require.Equal(t, "# Managed by Ansible (role node_prep).\noverlay\nbr_netfilter\n", n.file(t, "etc/modules-load.d/kubernetes.conf"))
		require.Contains(t, n.file(t, "etc/sysctl.d/90-kubernetes.conf"), "net.ipv4.ip_forward = 1")
		require.Contains(t, n.file(t, "etc/fstab"), "# /swapfile none swap sw 0 0")
		require.True(t, strings.HasPrefix(n.file(t, "etc/fstab"), "/dev/vda1 / ext4"), "other fstab lines stay")
	}
	require.True(t, c.Repos.requested("/core:/stable:/v1.34/deb/Release.key"), "the Kubernetes key from the repository's own URL")
	require.True(t, c.Repos.requested("/core:/stable:/v1.34/deb/InRelease"))
	require.True(t, c.Repos.requested("/docker/dists/bookworm/InRelease"))

	cp1, cp2, worker := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	kubeadmCalls := func(n node) []string {
		var out []string
		for _, call := range n.calls(t) {
			if strings.HasPrefix(call, "kubeadm ") {
				out = append(out, call)
			}
		}
		return out
	}
	require.Equal(t, []string{
		"kubeadm config validate --config /etc/kubernetes/kubeadm/init.yaml",
		"kubeadm init --config /etc/kubernetes/kubeadm/init.yaml",
		"kubeadm token create --ttl 1h --print-join-command",
		"kubeadm init phase upload-certs --upload-certs --config /etc/kubernetes/kubeadm/init.yaml",
	}, kubeadmCalls(cp1))
	for _, n := range []node{cp2, worker} {
		require.Equal(t, []string{
			"kubeadm config validate --config /etc/kubernetes/kubeadm/join.yaml",
			"kubeadm join --config /etc/kubernetes/kubeadm/join.yaml",
		}, kubeadmCalls(n), n.Name)
		require.NoFileExists(t, filepath.Join(n.Root, "etc/kubernetes/kubeadm/join.yaml"), "the join token stays on %s", n.Name)
	}

	// The configurations kubeadm got, checked by the real kubeadm at the
	// pinned release.
	initCfg := filepath.Join(cp1.Root, "var/log/standin/init.yaml")
	c.validate(t, initCfg)
	init := cp1.file(t, "var/log/standin/init.yaml")
	for _, want := range []string{
		"kubernetesVersion: " + toolbuild.KubernetesVersion,
		`controlPlaneEndpoint: "10.20.0.200:6443"`,
		"podSubnet: 10.244.0.0/16", "serviceSubnet: 10.96.0.0/12",
		"advertiseAddress: 10.20.0.10", "name: cp-1", "cgroupDriver: systemd",
		"- 198.51.100.20",
	} {
		require.Contains(t, init, want)
	}
	for _, n := range []node{cp2, worker} {
		path := filepath.Join(n.Root, "var/log/standin/join.yaml")
		c.validate(t, path)
		join := n.file(t, "var/log/standin/join.yaml")
		require.Contains(t, join, "token: "+standInToken)
		require.Contains(t, join, "- "+standInCAHash)
		require.Contains(t, join, "value: "+n.IP)
		if n.Group == "control_plane" {
			require.Contains(t, join, "certificateKey: "+standInCertKey)
		} else {
			require.NotContains(t, join, "controlPlane:")
		}
	}

	// Calico: the pinned operator manifest and the installation applied.
	require.Contains(t, cp1.calls(t), "kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --force-conflicts --field-manager groundwork-ansible -f /etc/kubernetes/addons/calico/tigera-operator-v3.31.3.yaml")
	inst := cp1.file(t, "etc/kubernetes/addons/calico/installation.yaml")
	require.Contains(t, inst, "cidr: 10.244.0.0/16")
	require.Contains(t, inst, "encapsulation: VXLAN")

	// The kubeconfig on the operator's machine: public address, 0600.
	kc, err := os.ReadFile(c.Local)
	require.NoError(t, err)
	require.Contains(t, string(kc), "server: https://198.51.100.20:6443")
	require.Contains(t, string(kc), "client-key-data: c3RhbmQtaW4ga2V5")
	fi, err := os.Stat(c.Local)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	before := callCounts(t, c.Nodes)
	second := c.play(t, "site.yml")
	require.Empty(t, second.changed(), "a second run changes nothing")
	for _, n := range c.Nodes {
		require.Zero(t, second.Stats[n.Name].Changed, n.Name)
	}
	require.Empty(t, callsSince(t, c.Nodes, before, "kubeadm init", "kubeadm join", "kubeadm token", "kubectl --kubeconfig /etc/kubernetes/admin.conf apply"),
		"the second run initialized, joined or applied again")
}

// upgrade.yml to 1.35.0: one machine at a time, first control plane first
// (kubeadm upgrade apply), then the other control plane and the worker
// (kubeadm upgrade node), each drained after kubeadm and uncordoned after
// its kubelet; the packages at the new release and held again, the
// repository moved to the new minor. A second run changes nothing; site.yml
// still pinning the old release refuses to move the packages back.
func (c *chrootCluster) testUpgrade(t *testing.T) {
	before := callCounts(t, c.Nodes)
	next := []string{"--extra-vars", "kubernetes_version=" + nextK8sVersion}
	c.play(t, "upgrade.yml", next...)
	kubectl := "kubectl --kubeconfig /etc/kubernetes/admin.conf "
	require.Equal(t, []string{
		"cp-1: kubeadm upgrade apply v" + nextK8sVersion + " --yes",
		"cp-1: " + kubectl + "drain cp-1 --ignore-daemonsets --delete-emptydir-data --timeout 10m",
		"cp-1: " + kubectl + "uncordon cp-1",
		"cp-2: kubeadm upgrade node",
		"cp-1: " + kubectl + "drain cp-2 --ignore-daemonsets --delete-emptydir-data --timeout 10m",
		"cp-1: " + kubectl + "uncordon cp-2",
		"worker-1: kubeadm upgrade node",
		"cp-1: " + kubectl + "drain worker-1 --ignore-daemonsets --delete-emptydir-data --timeout 10m",
		"cp-1: " + kubectl + "uncordon worker-1",
	}, callsSince(t, c.Nodes, before, "kubeadm upgrade", kubectl+"drain", kubectl+"uncordon"))
	for _, n := range c.Nodes {
		for _, p := range []string{"kubeadm", "kubelet", "kubectl"} {
			require.Equal(t, nextK8sVersion+"-1.1", n.chroot(t, "dpkg-query", "-W", "-f=${Version}", p), "%s on %s", p, n.Name)
		}
		require.ElementsMatch(t, []string{"containerd.io", "kubeadm", "kubectl", "kubelet"}, strings.Fields(n.chroot(t, "apt-mark", "showhold")))
		require.Contains(t, n.file(t, "etc/apt/sources.list.d/kubernetes.list"), "/core:/stable:/v1.35/deb/ /")
	}

	again := c.play(t, "upgrade.yml", next...)
	require.Empty(t, again.changed(), "a finished upgrade is left alone")

	out, failed := c.playFails(t, "site.yml")
	require.True(t, failed, "site.yml pinning %s ran on machines at %s", k8sPackageVersion, nextK8sVersion)
	require.Contains(t, out, "upgrade the cluster with upgrade.yml")
	require.Equal(t, nextK8sVersion+"-1.1", c.Nodes[0].chroot(t, "dpkg-query", "-W", "-f=${Version}", "kubeadm"))
}

// reset.yml: refused without the cluster's name; with it, kubeadm reset on
// the worker first and the first control plane last, the kubeconfig here
// deleted. site.yml then builds the cluster again from scratch.
func (c *chrootCluster) testReset(t *testing.T) {
	before := callCounts(t, c.Nodes)
	out, failed := c.playFails(t, "reset.yml", "--extra-vars", "reset_confirm=another-cluster")
	require.True(t, failed)
	require.Contains(t, out, "not confirmed; nothing was changed")
	require.Empty(t, callsSince(t, c.Nodes, before, "kubeadm"))
	require.FileExists(t, c.Local)

	c.play(t, "reset.yml", "--extra-vars", "reset_confirm=groundwork-test")
	require.Equal(t, []string{"worker-1: kubeadm reset --force", "cp-2: kubeadm reset --force", "cp-1: kubeadm reset --force"},
		callsSince(t, c.Nodes, before, "kubeadm"))
	require.NoFileExists(t, c.Local)
	require.NoFileExists(t, filepath.Join(c.Nodes[0].Root, "etc/kubernetes/admin.conf"))

	before = callCounts(t, c.Nodes)
	c.play(t, "site.yml", "--extra-vars", "kubernetes_version="+nextK8sVersion)
	require.Equal(t, []string{
		"cp-1: kubeadm init --config /etc/kubernetes/kubeadm/init.yaml",
		"cp-2: kubeadm join --config /etc/kubernetes/kubeadm/join.yaml",
		"worker-1: kubeadm join --config /etc/kubernetes/kubeadm/join.yaml",
	}, callsSince(t, c.Nodes, before, "kubeadm init --config", "kubeadm join"))
	require.FileExists(t, c.Local)
}
