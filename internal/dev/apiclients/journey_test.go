package apiclients

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/dev/devstack"
	"github.com/groundwork-dev/groundwork/internal/shared/toolbuild"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
)

const root = "../../.."

// journey is the shell block after the journey marker in docs/api.md.
func journey(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs/api.md"))
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)<!-- journey: run by internal/dev/apiclients -->\n```sh\n(.*?)```").FindSubmatch(b)
	require.NotNil(t, m, "docs/api.md lost its journey block")
	return strings.Split(strings.TrimSpace(string(m[1])), "\n")
}

// The journey of docs/api.md, command for command, on a private stack: the
// only changes are its ports and state directory for the defaults.
func TestJourneyOfTheAPIDoc(t *testing.T) {
	ctx := t.Context()
	out := &bytes.Buffer{}
	deps := sysdeps.New(out)
	require.NoError(t, deps.Ensure(ctx, sysdeps.CurlJQ()...), "%s", out)
	grpcurl, err := toolbuild.Ensure(ctx, root, toolbuild.Grpcurl, io.Discard)
	require.NoError(t, err)

	lines := journey(t)
	require.Equal(t, "go tool mage dev:up", lines[0], "the journey starts the stack")

	state := t.TempDir()
	// t.TempDir is 0700; the unprivileged PostgreSQL user must traverse it.
	require.NoError(t, os.Chmod(state, 0o711))
	cfg, err := devstack.PrivateConfig(ctx, root, state)
	require.NoError(t, err)
	stack := devstack.New(cfg, out, deps)
	t.Cleanup(func() { _ = stack.Reset(context.Background()) })
	require.NoError(t, stack.Up(ctx), "%s", out)

	script := strings.NewReplacer(
		"127.0.0.1:25000", cfg.ServerGRPCAddr(),
		"127.0.0.1:8080", cfg.WebAddr(),
		".dev/pki/", cfg.PKIDir()+"/",
	).Replace(strings.Join(lines[1:], "\n"))
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -euo pipefail\n"+script)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(grpcurl)+":"+os.Getenv("PATH"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	require.NoError(t, err, "the journey failed:\n%s\n%s\n%s", stdout, stderr.String(), script)
	got := string(stdout)

	// grpcurl list: every service, found by reflection.
	for _, svc := range []string{"groundwork.v1.AccountService", "groundwork.v1.UserService", "grpc.health.v1.Health",
		"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"} {
		require.Contains(t, got, svc+"\n")
	}
	// describe: the method's signature.
	require.Contains(t, got, "rpc CreateAccount ( .groundwork.v1.CreateAccountRequest ) returns ( .groundwork.v1.CreateAccountResponse );")
	// GetMe and CreateAccount with the session.
	require.Regexp(t, `"email": "try@example.com"`, got)
	require.Regexp(t, `(?s)"account": \{.*"name": "first"`, got)
	// The served contract.
	require.Contains(t, got, "3.0.3\n")

	// And without the session, the same call is refused: reflection and
	// health are the only methods that need none.
	paths := strings.NewReplacer(".dev/pki/", cfg.PKIDir()+"/")
	tlsArgs := strings.Fields(paths.Replace("-cacert .dev/pki/server-grpc-tls/ca.crt -cert .dev/pki/server-dev-client-tls/tls.crt -key .dev/pki/server-dev-client-tls/tls.key"))
	noSession, err := exec.CommandContext(ctx, grpcurl, append(tlsArgs, cfg.ServerGRPCAddr(), "groundwork.v1.UserService/GetMe")...).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(noSession), "Code: Unauthenticated")
}
