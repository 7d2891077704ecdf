package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrNoBinaries means no PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres, pg_ctl) not found")

// Binaries locates one PostgreSQL installation's server programs.
type Binaries struct {
	Dir string // directory holding initdb, postgres and pg_ctl
}

// Path returns the full path of the named program.
func (b Binaries) Path(name string) string { return filepath.Join(b.Dir, name) }

// FindBinaries looks for the server programs on PATH, then in the directory
// `pg_config --bindir` names, then under /usr/lib/postgresql/<version>/bin
// (Debian's layout, which does not put them on PATH), newest version first.
func FindBinaries() (Binaries, error) {
	var candidates []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil { //nolint:noctx // a local lookup that returns at once
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	candidates = append(candidates, debianBinDirs("/usr/lib/postgresql")...)
	for _, dir := range candidates {
		b := Binaries{Dir: dir}
		if b.complete() {
			return b, nil
		}
	}
	return Binaries{}, ErrNoBinaries
}

func (b Binaries) complete() bool {
	for _, name := range []string{"initdb", "postgres", "pg_ctl"} {
		fi, err := os.Stat(b.Path(name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// debianBinDirs lists <root>/<major>/bin, highest major version first.
func debianBinDirs(root string) []string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var versions []int
	for _, e := range entries {
		if v, err := strconv.Atoi(e.Name()); err == nil {
			versions = append(versions, v)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(versions)))
	dirs := make([]string, 0, len(versions))
	for _, v := range versions {
		dirs = append(dirs, filepath.Join(root, strconv.Itoa(v), "bin"))
	}
	return dirs
}

// Version returns the major version the binaries report, e.g. 15.
func (b Binaries) Version() (int, error) {
	out, err := exec.Command(b.Path("postgres"), "--version").Output() //nolint:noctx // a local lookup that returns at once
	if err != nil {
		return 0, fmt.Errorf("run postgres --version: %w", err)
	}
	// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
	fields := strings.Fields(string(out))
	if len(fields) < 3 {
		return 0, fmt.Errorf("unexpected postgres --version output %q", out)
	}
	major, _, _ := strings.Cut(fields[2], ".")
	v, err := strconv.Atoi(major)
	if err != nil {
		return 0, fmt.Errorf("unexpected postgres --version output %q", out)
	}
	return v, nil
}
