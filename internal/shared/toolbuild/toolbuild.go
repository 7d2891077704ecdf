// Package toolbuild builds third-party programs that live in their own
// modules under tools/ (outside go.work, so their dependency graphs do not
// leak into ours) into the user's cache (package usercache), one binary per
// tool and pinned version: every clone on the machine — each CI run is a
// fresh one — reuses it, and a warm call is a few file reads.
package toolbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/shared/lastlines"
	"github.com/groundwork-dev/groundwork/internal/shared/usercache"
)

// Tool is a program built from tools/<Dir>.
type Tool struct {
	Dir     string // directory under tools/
	Package string // main package to build
	Name    string // binary name
	LDFlags string // e.g. -X flags that stamp the version release builds stamp
	// Static builds with CGO_ENABLED=0 and -trimpath, as release builds of
	// Kubernetes and etcd are: no libc dependency, no local paths inside.
	Static bool
}

// GolangciLint is the linter, pinned in tools/golangci-lint/go.mod.
var GolangciLint = Tool{Dir: "golangci-lint", Package: "github.com/golangci/golangci-lint/v2/cmd/golangci-lint", Name: "golangci-lint"}

// Buf compiles, lints and formats the protos and drives the protoc plugins
// of `buf generate`, pinned in tools/buf/go.mod.
var Buf = Tool{Dir: "buf", Package: "github.com/bufbuild/buf/cmd/buf", Name: "buf"}

// Kratos is Ory Kratos (identity and sessions), pinned in tools/kratos/go.mod.
// Ory's release builds stamp the version with a linker flag; without it the
// binary reports "master" in its logs and /admin/version.
var Kratos = Tool{Dir: "kratos", Package: "github.com/ory/kratos", Name: "kratos",
	LDFlags: "-X github.com/ory/kratos/driver/config.Version=v1.3.1"}

// Mailpit is the local mailbox (SMTP sink with a web UI and a JSON API) that
// receives Kratos's verification and recovery mail in the local stack and
// the end-to-end tests, pinned in tools/mailpit/go.mod.
var Mailpit = Tool{Dir: "mailpit", Package: "github.com/axllent/mailpit", Name: "mailpit",
	LDFlags: "-X github.com/axllent/mailpit/config.Version=v1.33.1"}

// OpenStackProvider is Terraform's OpenStack provider, pinned in
// tools/terraform-provider-openstack/go.mod; internal/infra/terraform lays
// it out as a filesystem mirror for terraform init.
var OpenStackProvider = Tool{Dir: "terraform-provider-openstack", Package: "github.com/terraform-provider-openstack/terraform-provider-openstack/v3", Name: "terraform-provider-openstack"}

// Grpcurl is the command-line gRPC client the API-clients test follows
// docs/api.md with, pinned in tools/grpcurl/go.mod.
var Grpcurl = Tool{Dir: "grpcurl", Package: "github.com/fullstorydev/grpcurl/cmd/grpcurl", Name: "grpcurl",
	LDFlags: "-X main.version=v1.9.4"}

// TFLint lints the Terraform code with its bundled terraform ruleset,
// pinned in tools/tflint/go.mod.
var TFLint = Tool{Dir: "tflint", Package: "github.com/terraform-linters/tflint", Name: "tflint"}

// KubernetesVersion is the Kubernetes release pinned in
// tools/kubernetes/go.mod (k8s.io/kubernetes and its staging modules): the
// local control plane's, and the one the Ansible playbooks install.
const KubernetesVersion = "v1.34.2"

// KubernetesVersionFlags stamp KubernetesVersion the way Kubernetes'
// release builds do; without them the binaries report v0.0.0-master and
// clients warn about the skew.
func KubernetesVersionFlags() string {
	major, minor, _ := strings.Cut(strings.TrimPrefix(KubernetesVersion, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	var fl []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		fl = append(fl, "-X "+pkg+".gitVersion="+KubernetesVersion, "-X "+pkg+".gitMajor="+major, "-X "+pkg+".gitMinor="+minor)
	}
	return strings.Join(fl, " ")
}

// Kubeadm checks the kubeadm configuration the Ansible roles template
// (kubeadm config validate) at the release the playbooks pin; built from
// the same module as the local control plane.
var Kubeadm = Tool{Dir: "kubernetes", Package: "k8s.io/kubernetes/cmd/kubeadm", Name: "kubeadm",
	Static: true, LDFlags: "-s -w " + KubernetesVersionFlags()}

// Ensure returns the path of t's binary for the pins in root/tools/<Dir>,
// building it into the user's cache first when no clone on this machine has
// built that version yet. Concurrent callers wait for one build. A cold
// build needs the Go module proxy and takes a minute or more; the error of
// a failed one says how to run it by hand.
func Ensure(ctx context.Context, root string, t Tool, out io.Writer) (string, error) {
	key, err := Key(root, t)
	if err != nil {
		return "", err
	}
	dir, err := usercache.Fill(ctx, filepath.Join("tools", t.Name), key, func(ctx context.Context, dir string) error {
		fmt.Fprintf(out, "building %s from tools/%s into the user's cache (first time on this machine: a few minutes)\n", t.Name, t.Dir)
		return build(ctx, root, t, filepath.Join(dir, t.Name))
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, t.Name), nil
}

func build(ctx context.Context, root string, t Tool, bin string) error {
	args := []string{"build", "-o", bin}
	env := append(os.Environ(), "GOWORK=off")
	if t.Static {
		args = append(args, "-trimpath")
		env = append(env, "CGO_ENABLED=0")
	}
	if t.LDFlags != "" {
		args = append(args, "-ldflags="+t.LDFlags)
	}
	args = append(args, t.Package)
	dir := filepath.Join(root, "tools", t.Dir)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s (cd %s && %sGOWORK=off go %s): %w\n"+
			"The first build on a machine downloads the tool's modules from the Go module proxy (GOPROXY); later builds "+
			"work offline from the module and build caches. %s may point at another cache directory.\n%s",
			t.Name, dir, staticEnv(t), strings.Join(args, " "), err, usercache.EnvDir, lastlines.Of(log.String(), 40))
	}
	return nil
}

// Key names the build t would produce: a hash of the pinned module graph
// (tools/<Dir>/go.mod and go.sum), the linker flags and the Go release
// that compiled this program (the go command on PATH is the same toolchain
// in this project: nothing sets GOTOOLCHAIN).
func Key(root string, t Tool) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, "tools", t.Dir, f))
		if err != nil {
			return "", fmt.Errorf("read the pins of %s: %w", t.Name, err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "ldflags %s\ngo %s %s/%s\n", t.LDFlags, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if t.Static { // only then, so that the other tools' keys (and caches) stay as they were
		fmt.Fprintln(h, "static")
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func staticEnv(t Tool) string {
	if t.Static {
		return "CGO_ENABLED=0 "
	}
	return ""
}
