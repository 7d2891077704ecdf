package workspace

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	repoRoot = "../../.."
	project  = "github.com/groundwork-dev/groundwork"
)

// moduleRank orders the workspace's modules (docs/architecture.md): a
// package may import packages of its own module and of modules ranked
// lower, never higher or level.
var moduleRank = map[string]int{
	project + "/internal/shared": 0,
	project + "/messengergen":    0,
	project + "/migrator":        1,
	project + "/queue":           2,
	project + "/server":          3,
	project:                      4,
}

// familyRank orders the root module's families the same way.
var familyRank = map[string]int{
	"toolchain":  1,
	"monitoring": 1,
	"dev":        2,
	"delivery":   3,
	"infra":      3,
	"bench":      4,
	"ci":         4,
}

// imports lists, for every package of every module (tests included), the
// workspace packages it imports.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	mods, err := Modules(t.Context(), repoRoot)
	require.NoError(t, err)
	out := map[string][]string{}
	for _, m := range mods {
		cmd := exec.CommandContext(t.Context(), "go", "list",
			"-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}`, "./...")
		cmd.Dir = m.Dir
		b, err := cmd.Output()
		require.NoError(t, err, "go list in %s", m.Dir)
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			for _, imp := range f[1:] {
				if strings.HasPrefix(imp, project) {
					out[f[0]] = append(out[f[0]], imp)
				}
			}
		}
	}
	return out
}

// moduleOf is the workspace module a package path belongs to: the longest
// module path that prefixes it.
func moduleOf(pkg string) string {
	best := ""
	for m := range moduleRank {
		if (pkg == m || strings.HasPrefix(pkg, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	return best
}

// familyOf is the root internal family of a root-module package, or "".
func familyOf(pkg string) string {
	rest, ok := strings.CutPrefix(pkg, project+"/internal/")
	if !ok || moduleOf(pkg) != project {
		return ""
	}
	return strings.SplitN(rest, "/", 2)[0]
}

// importAllowed says whether from may import to under the two rankings.
func importAllowed(from, to string) (bool, string) {
	mf, mt := moduleOf(from), moduleOf(to)
	if mf == "" || mt == "" {
		return false, "outside the workspace's modules"
	}
	if mf != mt {
		if moduleRank[mt] >= moduleRank[mf] {
			return false, "module " + mf + " may not import module " + mt
		}
		return true, ""
	}
	ff, ft := familyOf(from), familyOf(to)
	if ff == "" || ft == "" || ff == ft {
		return true, ""
	}
	rf, okf := familyRank[ff]
	rt, okt := familyRank[ft]
	if !okf || !okt {
		return false, "internal/" + ff + " or internal/" + ft + " is not a known family (add it to familyRank and docs/architecture.md)"
	}
	if rt >= rf {
		return false, "internal/" + ff + " may not import internal/" + ft
	}
	return true, ""
}

// No import runs back up: not between modules, not between the root's
// families.
func TestImportsRunOneWay(t *testing.T) {
	t.Parallel()
	var wrong []string
	for from, tos := range imports(t) {
		for _, to := range tos {
			if ok, why := importAllowed(from, to); !ok {
				wrong = append(wrong, from+" -> "+to+": "+why)
			}
		}
	}
	require.Empty(t, wrong)
}

// The check itself refuses what it must.
func TestImportAllowed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{project + "/server/internal/cli", project + "/internal/shared/dbconn", true},
		{project + "/internal/shared/dbconn", project + "/migrator/pgtest", false},
		{project + "/migrator/schema", project + "/queue", false},
		{project + "/internal/dev/devstack", project + "/internal/toolchain/gobin", true},
		{project + "/internal/toolchain/gobin", project + "/internal/dev/devstack", false},
		{project + "/internal/ci", project + "/internal/bench/apibench", false},
		{project + "/internal/bench/apibench", project + "/internal/ci", false},
		{project + "/internal/delivery/kube", project + "/internal/delivery/manifests", true},
		{project + "/internal/nowhere/x", project + "/internal/toolchain/gobin", false},
		{project, project + "/internal/ci", true},
	} {
		ok, why := importAllowed(c.from, c.to)
		require.Equal(t, c.ok, ok, "%s -> %s (%s)", c.from, c.to, why)
	}
}

// The root's internal/ stays a handful of families.
func TestRootInternalHasFewEntries(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(filepath.Join(repoRoot, "internal"))
	require.NoError(t, err)
	require.LessOrEqual(t, len(entries), 8)
	for _, e := range entries {
		if e.Name() == "shared" {
			continue
		}
		_, ok := familyRank[e.Name()]
		require.True(t, ok, "internal/%s is not a family of docs/architecture.md", e.Name())
	}
}

var docPath = regexp.MustCompile("`((?:internal|server|migrator|queue|messengergen)(?:/[a-z0-9_.-]+)*)`")

// Every package path docs/architecture.md names exists.
func TestArchitectureDocNamesRealPaths(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "architecture.md"))
	require.NoError(t, err)
	var missing []string
	n := 0
	for _, m := range docPath.FindAllStringSubmatch(string(b), -1) {
		n++
		if _, err := os.Stat(filepath.Join(repoRoot, m[1])); err != nil {
			missing = append(missing, m[1])
		}
	}
	require.Greater(t, n, 20, "the page names the packages")
	require.Empty(t, missing)
}
