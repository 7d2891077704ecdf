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

// LoadAverage is /proc/loadavg's 1, 5 and 15-minute load averages, or
// "unknown": how busy the machine was apart from the benchmark, which
// explains noisy rounds.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
