package workspace

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

func TestCheckGeneratedPassesWhenNothingChanges(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, root, "a/gen.go", "package a\n")
	require.NoError(t, CheckGenerated(context.Background(), root, func(context.Context) error {
		write(t, root, "a/gen.go", "package a\n") // same bytes rewritten
		return nil
	}))
}

func TestCheckGeneratedNamesEveryStaleFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, root, "a/gen.go", "package a\n")
	write(t, root, "b/old.go", "package b\n")
	write(t, root, ".dev/state", "ignored\n")
	err := CheckGenerated(context.Background(), root, func(context.Context) error {
		write(t, root, "a/gen.go", "package a // changed\n")
		write(t, root, "c/new.go", "package c\n")
		write(t, root, ".dev/state", "changes here do not count\n")
		return os.Remove(filepath.Join(root, "b/old.go"))
	})
	require.Error(t, err)
	for _, p := range []string{"a/gen.go", "b/old.go", "c/new.go"} {
		require.Contains(t, err.Error(), p)
	}
	require.NotContains(t, err.Error(), ".dev")
}

func TestGoFilesSkipsTestdataAndState(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, root, "x.go", "package x\n")
	write(t, root, "m/testdata/bad.go", "not go")
	write(t, root, "node_modules/y.go", "package y\n")
	write(t, root, ".dev/z.go", "package z\n")
	files, err := GoFiles(root)
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(root, "x.go")}, files)
}

func TestModulesListsTheWorkspace(t *testing.T) {
	t.Parallel()
	mods, err := Modules(context.Background(), "../../..")
	require.NoError(t, err)
	paths := map[string]bool{}
	for _, m := range mods {
		paths[m.Path] = true
	}
	for _, p := range []string{"github.com/groundwork-dev/groundwork", "github.com/groundwork-dev/groundwork/migrator", "github.com/groundwork-dev/groundwork/messengergen"} {
		require.True(t, paths[p], "go.work must join %s", p)
	}
}
