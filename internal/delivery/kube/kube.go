// Package kube is the cluster client of the delivery targets: the Kube
// interface, kubectl behind it (server-side apply, diff, wait), and the
// staged apply every path shares (manifests.Stages: namespaces and CRDs,
// then the migration Jobs, then the workloads), with RenderPinned to pin
// an overlay to pushed digests and check it first. kind:* and deploy:prod
// both use it.
package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

// Kube is the cluster as deploy uses it. Kubectl implements it; tests use
// a recording fake.
type Kube interface {
	// CurrentContext names the kube context the calls go to.
	CurrentContext(ctx context.Context) (string, error)
	// Reachable returns ErrUnreachable (wrapped) when the cluster does not
	// answer.
	Reachable(ctx context.Context) error
	// Apply server-side applies a YAML stream.
	Apply(ctx context.Context, yaml []byte) error
	// Diff returns what applying the YAML stream would change ("" when
	// nothing).
	Diff(ctx context.Context, yaml []byte) (string, error)
	// Wait blocks until the condition holds or the timeout passes.
	Wait(ctx context.Context, w manifests.Wait, timeout time.Duration) error
	// Get returns a JSONPath of an object; ok is false when it does not
	// exist.
	Get(ctx context.Context, kind, namespace, name, jsonpath string) (value string, ok bool, err error)
	// Restart restarts a Deployment's pods (kubectl rollout restart).
	Restart(ctx context.Context, namespace, name string) error
}

// FieldManager is the server-side apply field manager of every apply.
const FieldManager = "groundwork"

// Kubectl runs the kubectl binary.
type Kubectl struct {
	// Context is the kube context to use; empty: the current one.
	Context string
	// Binary is the kubectl executable; empty: "kubectl" from PATH.
	Binary string
	// Log receives kubectl's progress output.
	Log io.Writer
	// Env is added to kubectl's environment (e.g. KUBECONFIG=...).
	Env []string
}

// ErrNoKubectl says kubectl is not installed.
var ErrNoKubectl = errors.New("kubectl is not installed: install it (https://kubernetes.io/docs/tasks/tools/#kubectl) and try again")

// Run runs kubectl with args (and stdin, if not nil) and returns its
// standard output; a failure is a *KubectlError with its standard error.
func (k Kubectl) Run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	bin := k.Binary
	if bin == "" {
		bin = "kubectl"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, ErrNoKubectl
	}
	if k.Context != "" {
		args = append([]string{"--context", k.Context}, args...)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	if len(k.Env) > 0 {
		cmd.Env = append(os.Environ(), k.Env...)
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err != nil {
		return stdout.Bytes(), &KubectlError{Args: args, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return stdout.Bytes(), nil
}

// KubectlError is a failed kubectl call.
type KubectlError struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *KubectlError) Error() string {
	return fmt.Sprintf("kubectl %s: %v: %s", strings.Join(e.Args, " "), e.Err, e.Stderr)
}

func (e *KubectlError) Unwrap() error { return e.Err }

// CurrentContext implements Kube.
func (k Kubectl) CurrentContext(ctx context.Context) (string, error) {
	if k.Context != "" {
		return k.Context, nil
	}
	out, err := k.Run(ctx, nil, "config", "current-context")
	if err != nil {
		return "", fmt.Errorf("no current kube context (set one with `kubectl config use-context NAME`): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// ErrUnreachable says the cluster of the kube context does not answer.
var ErrUnreachable = errors.New("the cluster does not answer")

// Reachable implements Kube: GET /readyz on the API server.
func (k Kubectl) Reachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err := k.Run(ctx, nil, "get", "--raw", "/readyz", "--request-timeout=15s")
	if err == nil || errors.Is(err, ErrNoKubectl) {
		return err
	}
	name, _ := k.CurrentContext(ctx)
	return fmt.Errorf("%w: kube context %q: check the cluster is up and `kubectl get --raw /readyz` works: %w", ErrUnreachable, name, err)
}

// Apply implements Kube.
func (k Kubectl) Apply(ctx context.Context, yaml []byte) error {
	out, err := k.Run(ctx, yaml, "apply", "--server-side", "--field-manager="+FieldManager, "--force-conflicts", "-f", "-")
	if k.Log != nil {
		_, _ = k.Log.Write(out)
	}
	return err
}

// Diff implements Kube. kubectl diff exits 1 when there are differences.
func (k Kubectl) Diff(ctx context.Context, yaml []byte) (string, error) {
	out, err := k.Run(ctx, yaml, "diff", "--server-side", "--field-manager="+FieldManager, "--force-conflicts", "-f", "-")
	var ke *KubectlError
	var ee *exec.ExitError
	if errors.As(err, &ke) && errors.As(ke.Err, &ee) && ee.ExitCode() == 1 {
		return string(out), nil
	}
	return string(out), err
}

// Wait implements Kube.
func (k Kubectl) Wait(ctx context.Context, w manifests.Wait, timeout time.Duration) error {
	res := w.Resource()
	var args []string
	if w.For == manifests.Rollout {
		args = []string{"rollout", "status", res, "--timeout=" + timeout.String()}
	} else {
		args = []string{"wait", res, "--for=" + w.For, "--timeout=" + timeout.String()}
	}
	if w.Namespace != "" {
		args = append([]string{"-n", w.Namespace}, args...)
	}
	out, err := k.Run(ctx, nil, args...)
	if k.Log != nil {
		_, _ = k.Log.Write(out)
	}
	return err
}

// Get implements Kube.
func (k Kubectl) Get(ctx context.Context, kind, namespace, name, jsonpath string) (string, bool, error) {
	args := []string{"get", strings.ToLower(kind), name, "--ignore-not-found", "-o", "jsonpath=" + jsonpath}
	if namespace != "" {
		args = append([]string{"-n", namespace}, args...)
	}
	out, err := k.Run(ctx, nil, args...)
	if err != nil {
		return "", false, err
	}
	s := string(out)
	return s, s != "", nil
}

// Restart implements Kube.
func (k Kubectl) Restart(ctx context.Context, namespace, name string) error {
	_, err := k.Run(ctx, nil, "-n", namespace, "rollout", "restart", "deployment/"+name)
	return err
}
