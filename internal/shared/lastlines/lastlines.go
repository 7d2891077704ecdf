// Package lastlines cuts a failed command's output (or a log) to its last
// lines, which is where the reason usually is, for error messages that
// must stay readable.
package lastlines

import "strings"

// Of returns the last n lines of s, without a trailing newline.
func Of(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
