package protogen

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/toolbuild"
)

// These tests run the real buf and the real plugins on copies of the
// server's buf workspace, so they need the Go module proxy (or a warm module
// cache) the first time: building buf cold takes a few minutes.

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	return root
}

// buildBuf builds buf once for all tests of the package, so parallel tests
// do not write the same binary at once.
var buildBuf = sync.OnceValues(func() (string, error) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	bin, err := toolbuild.Ensure(context.Background(), root, toolbuild.Buf, &out)
	if err != nil {
		return "", errors.Join(err, errors.New(out.String()))
	}
	return bin, nil
})

type testBundle struct {
	root string    // the repository
	ws   workspace // a copy of the repository's buf workspace
	out  *bytes.Buffer
}

// setup copies server/ (buf config, protos and the committed generated
// code) into a temporary directory that the test may change.
func setup(t *testing.T) *testBundle {
	t.Helper()
	bin, err := buildBuf()
	require.NoError(t, err, "build buf")
	root := repoRoot(t)
	dir := filepath.Join(t.TempDir(), "server")
	for _, rel := range []string{"buf.yaml", "buf.gen.yaml", "proto", "gen"} {
		copyTree(t, filepath.Join(root, Dir, rel), filepath.Join(dir, rel))
	}
	out := &bytes.Buffer{}
	return &testBundle{
		root: root,
		ws:   workspace{buf: bin, goWork: filepath.Join(root, "go.work"), dir: dir, rel: Dir, out: out},
		out:  out,
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	require.NoError(t, err)
}

// readTree maps each file under dir (slash-separated, relative) to its
// content.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	require.NoError(t, err)
	return files
}

// requireSameTree fails naming the files that differ between two trees.
func requireSameTree(t *testing.T, want, got map[string][]byte, msg string) {
	t.Helper()
	var diff []string
	for name, w := range want {
		if g, ok := got[name]; !ok {
			diff = append(diff, "missing "+name)
		} else if !bytes.Equal(w, g) {
			diff = append(diff, "changed "+name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			diff = append(diff, "extra "+name)
		}
	}
	require.Empty(t, diff, msg)
}

func editFile(t *testing.T, path string, edit func(string) string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	changed := edit(string(data))
	require.NotEqual(t, string(data), changed, "edit of %s changed nothing", path)
	require.NoError(t, os.WriteFile(path, []byte(changed), 0o644))
}

// lineOf returns the 1-based line of the first line of path that contains
// s.
func lineOf(t *testing.T, path, s string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in %s", s, path)
	return 0
}

func requireDiagnostic(t *testing.T, err error, want Diagnostic) {
	t.Helper()
	require.Error(t, err)
	var perr *Error
	require.ErrorAs(t, err, &perr)
	require.Contains(t, perr.Diagnostics, want, "full error:\n%v", err)
	require.Contains(t, err.Error(), want.String())
}

func TestLintPassesOnTheAPI(t *testing.T) {
	t.Parallel()
	_, err := buildBuf() // the shared build first: Lint's own is then a no-op
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, Lint(context.Background(), repoRoot(t), &out), out.String())
}

func TestGenerateReproducesTheCommittedCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	committed := readTree(t, filepath.Join(b.root, Dir, "gen"))
	require.Contains(t, committed, "groundwork/v1/account.pb.go")
	require.Contains(t, committed, "openapi/groundwork.swagger.json")
	// Stale output of protos that no longer exist.
	for _, stale := range []string{"groundwork/v1/old.pb.go", "openapi/old.swagger.json"} {
		require.NoError(t, os.WriteFile(filepath.Join(b.ws.dir, "gen", stale), []byte("stale"), 0o644))
	}

	for run := 1; run <= 2; run++ {
		require.NoError(t, b.ws.generate(context.Background()), b.out.String())
		requireSameTree(t, committed, readTree(t, filepath.Join(b.ws.dir, "gen")),
			"server/gen differs from a fresh `buf generate`: run `go tool mage generate` (or generation is not deterministic)")
	}
}

func TestGenerateRemovesTheOutputOfADeletedProto(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	extra := filepath.Join(b.ws.dir, "proto", "groundwork", "v1", "extra.proto")
	require.NoError(t, os.WriteFile(extra, []byte(`syntax = "proto3";

package groundwork.v1;

option go_package = "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1;groundworkv1";

// Extra exists for a moment.
message Extra {}
`), 0o644))
	require.NoError(t, b.ws.generate(ctx), b.out.String())
	require.FileExists(t, filepath.Join(b.ws.dir, "gen", "groundwork", "v1", "extra.pb.go"))

	require.NoError(t, os.Remove(extra))
	require.NoError(t, b.ws.generate(ctx), b.out.String())
	require.NoFileExists(t, filepath.Join(b.ws.dir, "gen", "groundwork", "v1", "extra.pb.go"))
}

func TestGenerateReportsACompileErrorWithItsPosition(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before := readTree(t, filepath.Join(b.ws.dir, "gen"))
	proto := filepath.Join(b.ws.dir, "proto", "groundwork", "v1", "account.proto")
	editFile(t, proto, func(s string) string {
		return strings.Replace(s, "  string owner_id = 2;", "  strin owner_id = 2;", 1)
	})

	err := b.ws.generate(context.Background())

	requireDiagnostic(t, err, Diagnostic{
		Path: "server/proto/groundwork/v1/account.proto", Line: lineOf(t, proto, "strin owner_id"), Column: 3,
		Rule: "COMPILE", Message: "cannot find `strin` in this scope",
	})
	requireSameTree(t, before, readTree(t, filepath.Join(b.ws.dir, "gen")), "a failed generation must leave server/gen alone")
}

func TestGenerateRequiresAnHTTPRuleForEveryRPC(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editFile(t, filepath.Join(b.ws.dir, "proto", "groundwork", "v1", "api.gateway.yaml"), func(s string) string {
		return strings.Replace(s, `    - selector: groundwork.v1.AccountService.DeleteAccount
      delete: /api/v1/accounts/{id}
`, "", 1)
	})
	proto := filepath.Join(b.ws.dir, "proto", "groundwork", "v1", "account.proto")

	err := b.ws.generate(context.Background())

	requireDiagnostic(t, err, Diagnostic{
		Path: "server/proto/groundwork/v1/account.proto", Line: lineOf(t, proto, "rpc DeleteAccount("), Column: 3,
		Rule:    "HTTP_RULE",
		Message: "rpc groundwork.v1.AccountService.DeleteAccount has no HTTP rule: add one to the grpc_api_configuration file named in buf.gen.yaml",
	})
	var perr *Error
	require.ErrorAs(t, err, &perr)
	require.Len(t, perr.Diagnostics, 1, "only DeleteAccount lacks a rule")
}

func TestGenerateRejectsAnHTTPRuleForAMissingRPC(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editFile(t, filepath.Join(b.ws.dir, "proto", "groundwork", "v1", "api.gateway.yaml"), func(s string) string {
		return strings.Replace(s, "selector: groundwork.v1.AccountService.GetAccount", "selector: groundwork.v1.AccountService.GetAcount", 1)
	})

	err := b.ws.generate(context.Background())

	require.Error(t, err)
	require.Contains(t, err.Error(), "HTTP rules without a matching selector: .groundwork.v1.AccountService.GetAcount")
}

func TestLintReportsRuleViolationsAndFormatting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	proto := filepath.Join(b.ws.dir, "proto", "groundwork", "v1", "account.proto")
	editFile(t, proto, func(s string) string {
		s = strings.Replace(s, "  string owner_id = 2;", "  string ownerId = 2;", 1)
		return strings.Replace(s, "  string page_token = 2;", "  string   page_token = 2;", 1)
	})

	err := b.ws.lint(context.Background())

	requireDiagnostic(t, err, Diagnostic{
		Path: "server/proto/groundwork/v1/account.proto", Line: lineOf(t, proto, "string ownerId"), Column: 10,
		Rule: "FIELD_LOWER_SNAKE_CASE", Message: `Field name "ownerId" should be lower_snake_case, such as "owner_id".`,
	})
	// errors.Join: the format problem is the second error.
	var joined interface{ Unwrap() []error }
	require.ErrorAs(t, err, &joined, "lint joins the errors of buf lint and buf format")
	errs := joined.Unwrap()
	require.Len(t, errs, 2)
	requireDiagnostic(t, errs[1], Diagnostic{
		Path: "server/proto/groundwork/v1/account.proto", Line: lineOf(t, proto, "string   page_token"),
		Rule: "FORMAT", Message: "not formatted",
	})
	require.Contains(t, err.Error(), "buf format -w server")
}
