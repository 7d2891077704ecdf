package controlplane

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/shared/toolbuild"
)

// Version is the Kubernetes release of the control plane, pinned in
// tools/kubernetes/go.mod (k8s.io/kubernetes and its staging modules).
const Version = toolbuild.KubernetesVersion

// KwokVersion is kwok's release, pinned in tools/kwok/go.mod.
const KwokVersion = "v0.8.0"

// The programs of the control plane. Static, stripped builds: they are
// the size of release builds and carry no path of this machine.
var (
	Etcd = toolbuild.Tool{Dir: "kubernetes", Package: "go.etcd.io/etcd/server/v3", Name: "etcd",
		Static: true, LDFlags: "-s -w"}
	APIServer = toolbuild.Tool{Dir: "kubernetes", Package: "k8s.io/kubernetes/cmd/kube-apiserver", Name: "kube-apiserver",
		Static: true, LDFlags: "-s -w " + toolbuild.KubernetesVersionFlags()}
	ControllerManager = toolbuild.Tool{Dir: "kubernetes", Package: "k8s.io/kubernetes/cmd/kube-controller-manager", Name: "kube-controller-manager",
		Static: true, LDFlags: "-s -w " + toolbuild.KubernetesVersionFlags()}
	Scheduler = toolbuild.Tool{Dir: "kubernetes", Package: "k8s.io/kubernetes/cmd/kube-scheduler", Name: "kube-scheduler",
		Static: true, LDFlags: "-s -w " + toolbuild.KubernetesVersionFlags()}
	Kwok = toolbuild.Tool{Dir: "kwok", Package: "sigs.k8s.io/kwok/cmd/kwok", Name: "kwok",
		Static: true, LDFlags: "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=" + strings.TrimPrefix(KwokVersion, "v")}
)

// Binaries are the paths of the built programs.
type Binaries struct {
	Etcd, APIServer, ControllerManager, Scheduler, Kwok string
}

// EnsureBinaries builds what is not in the user's cache yet: etcd and
// kube-apiserver always, the controller manager, scheduler and kwok when
// workloads is set. Cold, on two cores, that is about 15 minutes; warm, a
// few file reads.
func EnsureBinaries(ctx context.Context, root string, workloads bool, out io.Writer) (Binaries, error) {
	var b Binaries
	want := []struct {
		tool toolbuild.Tool
		path *string
	}{{Etcd, &b.Etcd}, {APIServer, &b.APIServer}}
	if workloads {
		want = append(want, []struct {
			tool toolbuild.Tool
			path *string
		}{{ControllerManager, &b.ControllerManager}, {Scheduler, &b.Scheduler}, {Kwok, &b.Kwok}}...)
	}
	for _, w := range want {
		p, err := toolbuild.Ensure(ctx, root, w.tool, out)
		if err != nil {
			return Binaries{}, fmt.Errorf("the local control plane needs %s: %w", w.tool.Name, err)
		}
		*w.path = p
	}
	return b, nil
}
