package webbuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMeasureInitialJSCountsEntryAndPreloadsOnly(t *testing.T) {
	t.Parallel()
	dist := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dist, "assets"), 0o755))
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dist, name), []byte(body), 0o644))
	}
	write("index.html", `<script type="module" crossorigin src="/assets/index-a.js"></script><link rel="modulepreload" crossorigin href="/assets/vendor-b.js"><link rel="stylesheet" href="/assets/index.css">`)
	write("assets/index-a.js", strings.Repeat("export const a = 1;\n", 100))
	write("assets/vendor-b.js", strings.Repeat("export const b = 2;\n", 100))
	write("assets/lazy-c.js", strings.Repeat("x", 1<<20)) // loaded on demand: not initial

	js, err := MeasureInitialJS(dist)
	require.NoError(t, err)
	require.Equal(t, []string{"/assets/index-a.js", "/assets/vendor-b.js"}, js.Files)
	require.Positive(t, js.GzipBytes)
	require.Less(t, js.GzipBytes, 1000)
	require.False(t, js.OverBudget())
	require.Contains(t, js.String(), "KB gzip (budget 150 KB)")
	require.True(t, InitialJS{GzipBytes: InitialJSBudget + 1}.OverBudget())

	write("index.html", `<script type="module" src="/assets/gone.js"></script>`)
	_, err = MeasureInitialJS(dist)
	require.ErrorContains(t, err, "/assets/gone.js")
	write("index.html", `<p>no script</p>`)
	_, err = MeasureInitialJS(dist)
	require.ErrorContains(t, err, "loads no script")
}

func TestWebSourceStampFollowsSourcesOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, body := range map[string]string{"src/main.tsx": "a", "package-lock.json": "{}", "node_modules/x/index.js": "n", "dist/index.html": "d", "src/x.test.tsx": "t"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	first, err := sourceStamp(dir)
	require.NoError(t, err)
	for _, ignored := range []string{"node_modules/x/index.js", "dist/index.html", "src/x.test.tsx"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, ignored), []byte("changed"), 0o644))
	}
	same, err := sourceStamp(dir)
	require.NoError(t, err)
	require.Equal(t, first, same, "build output, dependencies and tests do not make a new build")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "src/main.tsx"), []byte("b"), 0o644))
	changed, err := sourceStamp(dir)
	require.NoError(t, err)
	require.NotEqual(t, first, changed)
}
