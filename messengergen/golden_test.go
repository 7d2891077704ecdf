package messengergen_test

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/messengergen"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGolden runs every case under testdata/<case>/: routing.yaml in; the
// generated files (with -graph) beside it, or stderr.txt holding the
// diagnostics for a bad spec. Run go test -run TestGolden -update to rewrite them.
func TestGolden(t *testing.T) {
	t.Parallel()
	cases, err := os.ReadDir("testdata")
	require.NoError(t, err)
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		dir := filepath.Join("testdata", c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			t.Parallel()
			spec, err := os.ReadFile(filepath.Join(dir, "routing.yaml"))
			require.NoError(t, err)

			want := map[string][]byte{}
			files, err := messengergen.Generate(spec, "routing.yaml", messengergen.Options{Graph: true})
			var diags messengergen.Diagnostics
			switch {
			case errors.As(err, &diags):
				require.Nil(t, files)
				require.NotEmpty(t, diags)
				want["stderr.txt"] = []byte(diags.Error() + "\n")
			case err != nil:
				t.Fatalf("Generate: %v", err)
			default:
				want = files
			}

			got := readGolden(t, dir)
			if *update {
				for name := range got {
					if _, ok := want[name]; !ok {
						require.NoError(t, os.Remove(filepath.Join(dir, filepath.FromSlash(name))))
					}
				}
				for name, content := range want {
					path := filepath.Join(dir, filepath.FromSlash(name))
					require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
					require.NoError(t, os.WriteFile(path, content, 0o644))
				}
				return
			}
			require.Equal(t, sortedKeys(want), sortedKeys(got), "generated file set (run with -update to accept)")
			for name := range want {
				require.Equal(t, string(want[name]), string(got[name]), "%s differs (run with -update to accept)", name)
			}
		})
	}
}

// readGolden returns every file of a case but its spec, by slash path.
func readGolden(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel == "routing.yaml" {
			return nil
		}
		got[filepath.ToSlash(rel)], err = os.ReadFile(path)
		return err
	})
	require.NoError(t, err)
	return got
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestGenerateIsDeterministic generates every good case several times: the
// output must be byte-identical whatever the map iteration order.
func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	specs, err := filepath.Glob(filepath.Join("testdata", "ok_*", "routing.yaml"))
	require.NoError(t, err)
	specs = append(specs, filepath.Join("internal", "example", "routing.yaml"))
	for _, name := range specs {
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		first, err := messengergen.Generate(src, "routing.yaml", messengergen.Options{Graph: true})
		require.NoError(t, err)
		for range 5 {
			again, err := messengergen.Generate(src, "routing.yaml", messengergen.Options{Graph: true})
			require.NoError(t, err)
			require.Equal(t, first, again, name)
		}
	}
}
