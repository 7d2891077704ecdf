package schema_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/migrations"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

// dirFiles reads every file in dir by name.
func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	files := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		files[e.Name()] = string(b)
	}
	return files
}

func TestCreate(t *testing.T) {
	t.Parallel()

	t.Run("FirstInEmptyDirectory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		paths, err := schema.Create(dir, "add_widgets")
		require.NoError(t, err)
		require.Equal(t, []string{filepath.Join(dir, "000001_add_widgets.up.sql"), filepath.Join(dir, "000001_add_widgets.down.sql")}, paths)
		files := dirFiles(t, dir)
		require.Len(t, files, 2)
		require.Equal(t, "-- add widgets.\n-- Runs as one transaction: no BEGIN/COMMIT, no CREATE INDEX CONCURRENTLY.\n", files["000001_add_widgets.up.sql"])
		require.Equal(t, "-- Reverts 000001_add_widgets.up.sql.\n", files["000001_add_widgets.down.sql"])

		// The new pair is a valid migration source.
		v, err := schema.LatestVersion(os.DirFS(dir))
		require.NoError(t, err)
		require.Equal(t, uint(1), v)
	})

	t.Run("NextAfterHighest", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		existing := map[string]string{
			"000001_users.up.sql":       "CREATE TABLE users ();\n",
			"000001_users.down.sql":     "DROP TABLE users;\n",
			"000041_gap.up.sql":         "SELECT 1;\n",
			"000041_gap.down.sql":       "SELECT 1;\n",
			"7_short.up.sql":            "SELECT 1;\n",
			"README.md":                 "notes\n",
			"000999_Upper.up.sql":       "ignored: not a migration name\n",
			"000500_x.up.sql.orig":      "ignored: not .sql\n",
			"000100_noext.up":           "ignored\n",
			"000003_draft.sideways.sql": "ignored: neither up nor down\n",
		}
		for name, body := range existing {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
		}

		paths, err := schema.Create(dir, "add_widgets")
		require.NoError(t, err)
		require.Equal(t, filepath.Join(dir, "000042_add_widgets.up.sql"), paths[0])
		require.Equal(t, filepath.Join(dir, "000042_add_widgets.down.sql"), paths[1])

		files := dirFiles(t, dir)
		for name, body := range existing {
			require.Equal(t, body, files[name], "%s must not change", name)
		}
		require.Len(t, files, len(existing)+2)

		paths, err = schema.Create(dir, "more")
		require.NoError(t, err)
		require.Equal(t, filepath.Join(dir, "000043_more.up.sql"), paths[0])
	})

	t.Run("BadNames", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		for _, name := range []string{"", "Add", "addWidgets", "1_start", "_x", "add-widgets", "add widgets", "../escape", "a/b", "x.sql", "ümlaut"} {
			_, err := schema.Create(dir, name)
			require.EqualError(t, err, `create: migration name "`+name+`" must be lower_snake_case (letters, digits, _), starting with a letter`)
		}
		require.Empty(t, dirFiles(t, dir), "nothing is written for a bad name")
		require.NoFileExists(t, filepath.Join(filepath.Dir(dir), "000001_escape.up.sql"))
	})

	t.Run("MissingDirectory", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "nope")
		_, err := schema.Create(dir, "x")
		require.ErrorContains(t, err, "create: read migrations directory")
		require.NoDirExists(t, dir, "Create does not invent a directory")
	})

	t.Run("EmbeddedNumbering", func(t *testing.T) {
		t.Parallel()
		// In a copy of the checked-in migrations, Create numbers after them.
		dir := t.TempDir()
		require.NoError(t, os.CopyFS(dir, migrations.FS))
		latest, err := schema.LatestVersion(migrations.FS)
		require.NoError(t, err)
		paths, err := schema.Create(dir, "next")
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("%06d_next.up.sql", latest+1), filepath.Base(paths[0]))
	})
}
