package toolbuild

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/usercache"
)

// A tool module of its own under tools/, as the real ones are, with no
// dependencies: it builds offline in a second.
func toolTree(t *testing.T, greeting string) (root string, tool Tool) {
	t.Helper()
	root = t.TempDir()
	dir := filepath.Join(root, "tools", "hello")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/hello\n\ngo 1.26\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(`package main

import "fmt"

var greeting = "unset"

func main() { fmt.Print(greeting) }
`), 0o644))
	return root, Tool{Dir: "hello", Package: "example.com/hello", Name: "hello", LDFlags: "-X main.greeting=" + greeting}
}

func run(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), bin).Output()
	require.NoError(t, err)
	return string(out)
}

// The binary lands in the user's cache, not the clone, with the linker
// flags applied; a second clone with the same pins reuses it without a
// build; other pins are another entry.
func TestEnsureBuildsOncePerVersionIntoTheUserCache(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(usercache.EnvDir, cache)
	root, tool := toolTree(t, "hi")

	var log bytes.Buffer
	bin, err := Ensure(t.Context(), root, tool, &log)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(bin, filepath.Join(cache, "tools", "hello")+string(filepath.Separator)), bin)
	require.Equal(t, "hi", run(t, bin))
	require.Contains(t, log.String(), "building hello from tools/hello")

	// A fresh clone: same pins, another directory.
	clone, sameTool := toolTree(t, "hi")
	log.Reset()
	again, err := Ensure(t.Context(), clone, sameTool, &log)
	require.NoError(t, err)
	require.Equal(t, bin, again)
	require.Empty(t, log.String(), "a cached tool was built again")

	// New pins (here the linker flags): a new build beside the old.
	_, newer := toolTree(t, "hello")
	other, err := Ensure(t.Context(), root, newer, &log)
	require.NoError(t, err)
	require.NotEqual(t, bin, other)
	require.Equal(t, "hello", run(t, other))
	require.FileExists(t, bin)
}

// A build that cannot succeed fails with the command, the reason and what
// to do, and leaves nothing in the cache.
func TestEnsureBuildFailureIsExplained(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(usercache.EnvDir, cache)
	root, tool := toolTree(t, "hi")
	tool.Package = "example.com/hello/missing"

	_, err := Ensure(t.Context(), root, tool, &bytes.Buffer{})
	require.ErrorContains(t, err, "build hello")
	require.ErrorContains(t, err, "GOWORK=off go build")
	require.ErrorContains(t, err, "example.com/hello/missing")
	require.ErrorContains(t, err, usercache.EnvDir)
	entries, err := filepath.Glob(filepath.Join(cache, "tools", "hello", "*"))
	require.NoError(t, err)
	for _, e := range entries {
		require.True(t, strings.HasSuffix(e, ".lock"), "left in the cache: %s", e)
	}
}

func TestKeyNeedsThePins(t *testing.T) {
	t.Parallel()
	_, err := Key(t.TempDir(), Kratos)
	require.ErrorContains(t, err, "read the pins of kratos")
}

// The real pins exist for every tool the project names.
func TestEveryToolIsPinned(t *testing.T) {
	t.Parallel()
	for _, tool := range []Tool{GolangciLint, Buf, Kratos, Mailpit} {
		_, err := Key("../../..", tool)
		require.NoError(t, err, tool.Name)
	}
}

// A Static tool is linked without libc (no ELF interpreter), built with
// -trimpath, and cached apart from the same tool built the usual way.
func TestStaticBuild(t *testing.T) {
	t.Setenv(usercache.EnvDir, t.TempDir())
	root, tool := toolTree(t, "hi")
	static := tool
	static.Static = true
	k1, err := Key(root, tool)
	require.NoError(t, err)
	k2, err := Key(root, static)
	require.NoError(t, err)
	require.NotEqual(t, k1, k2)

	bin, err := Ensure(t.Context(), root, static, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, "hi", run(t, bin))
	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "dynamically linked")
	}
	b, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.NotContains(t, string(b), root, "a path of this machine is in the binary")
}
