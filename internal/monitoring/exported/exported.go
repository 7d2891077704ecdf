// Package exported knows which metric names exist: ours, read from the
// server's and the worker's real registries (groundwork.txt, kept current
// by a test in server/internal/cli), and those of the programs we run
// beside them, taken from their sources at the versions
// k8s/operators/versions.yaml and tools/ pin (one file each, its header
// saying where it came from). The dashboards' and rules' tests check every
// name they query against these, so a renamed metric fails CI instead of
// leaving a panel empty.
package exported

import (
	"bufio"
	"embed"
	"fmt"
	"io/fs"
	"strings"
)

//go:embed *.txt
var lists embed.FS

// Names maps every known metric name to the list it is in (groundwork,
// cloudnative-pg, ...). Histograms and summaries are listed by their base
// name; Source resolves their _bucket, _sum and _count series.
func Names() (map[string]string, error) {
	out := map[string]string{}
	entries, err := fs.Glob(lists, "*.txt")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		f, err := lists.Open(e)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if prev, dup := out[line]; dup {
				f.Close()
				return nil, fmt.Errorf("%s is in both %s and %s", line, prev, e)
			}
			out[line] = strings.TrimSuffix(e, ".txt")
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Source returns the list name is in, also for a histogram's or summary's
// _bucket, _sum and _count series; ok is false for an unknown name.
func Source(names map[string]string, name string) (string, bool) {
	if s, ok := names[name]; ok {
		return s, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, cut := strings.CutSuffix(name, suffix); cut {
			if s, ok := names[base]; ok {
				return s, true
			}
		}
	}
	return "", false
}

// Local reports whether a list's metrics come from a process the local
// stack runs (go tool mage dev:up), so a query of them must return data
// there: ours and Kratos's. The others exist only in a cluster.
func Local(source string) bool { return source == "groundwork" || source == "kratos" }
