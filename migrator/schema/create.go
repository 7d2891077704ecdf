package schema

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

var (
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	fileRE = regexp.MustCompile(`^(\d+)_[a-z0-9_]+\.(up|down)\.sql$`)
)

// Create adds an empty up/down pair to dir, numbered one past the highest
// version there, and returns the two paths.
func Create(dir, name string) ([]string, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("create: migration name %q must be lower_snake_case (letters, digits, _), starting with a letter", name)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("create: read migrations directory: %w", err)
	}
	next := uint64(1)
	for _, e := range entries {
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, err := strconv.ParseUint(m[1], 10, 64)
		if err == nil && v >= next {
			next = v + 1
		}
	}
	base := fmt.Sprintf("%06d_%s", next, name)
	paths := []string{filepath.Join(dir, base+".up.sql"), filepath.Join(dir, base+".down.sql")}
	bodies := []string{
		"-- " + strings.ReplaceAll(name, "_", " ") + ".\n-- Runs as one transaction: no BEGIN/COMMIT, no CREATE INDEX CONCURRENTLY.\n",
		"-- Reverts " + base + ".up.sql.\n",
	}
	for i, p := range paths {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			if errors.Is(err, os.ErrExist) {
				return nil, fmt.Errorf("create: %s exists already", p)
			}
			return nil, fmt.Errorf("create: %w", err)
		}
		_, werr := f.WriteString(bodies[i])
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("create: write %s: %w", p, werr)
		}
	}
	return paths, nil
}
