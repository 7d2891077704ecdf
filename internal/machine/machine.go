// Package machine describes the computer a benchmark runs on, for the
// reports the harnesses print (docs/performance.md records them).
package machine

import (
	"os"
	"strings"
)

// CPUModel is the processor's model name from /proc/cpuinfo, or "unknown
// CPU" where that file is missing.
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
