package protogen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Diagnostic is one problem in a proto file.
type Diagnostic struct {
	Path    string // slash-separated, relative to the repository root
	Line    int    // 1-based; 0 when buf gave no position
	Column  int    // 1-based; 0 when buf gave no position
	Rule    string // buf's type: COMPILE, a lint rule such as FIELD_LOWER_SNAKE_CASE, FORMAT, HTTP_RULE
	Message string
}

// String formats d as path:line:col: message (RULE), the form editors and
// terminals turn into links.
func (d Diagnostic) String() string {
	pos := d.Path
	if d.Line > 0 {
		pos += ":" + strconv.Itoa(d.Line)
		if d.Column > 0 {
			pos += ":" + strconv.Itoa(d.Column)
		}
	}
	if d.Rule == "" || d.Rule == "COMPILE" {
		return pos + ": " + d.Message
	}
	return fmt.Sprintf("%s: %s (%s)", pos, d.Message, d.Rule)
}

// Error is a failed step (generate, lint, format) with the problems it
// found.
type Error struct {
	Step        string       // generate, lint or format
	Dir         string       // the buf workspace, relative to the repository root
	Diagnostics []Diagnostic // positioned problems, in buf's order
	Output      string       // anything else buf printed, e.g. a failing plugin's message or a format diff
	Err         error        // the underlying failure, e.g. buf's exit status
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "buf %s in %s", e.Step, e.Dir)
	switch n := len(e.Diagnostics); {
	case n == 1:
		b.WriteString(": 1 problem")
	case n > 1:
		fmt.Fprintf(&b, ": %d problems", n)
	case e.Err != nil:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	for _, d := range e.Diagnostics {
		b.WriteString("\n  " + d.String())
	}
	if e.Step == "format" {
		fmt.Fprintf(&b, "\n  fix with: .cache/bin/buf format -w %s", e.Dir)
	}
	if e.Output != "" {
		b.WriteString("\n" + e.Output)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// annotation is one line of `buf --error-format=json`.
type annotation struct {
	Path        string `json:"path"`
	StartLine   int    `json:"start_line"`
	StartColumn int    `json:"start_column"`
	Type        string `json:"type"`
	Message     string `json:"message"`
}

// parseAnnotations splits buf's output into the JSON annotations it printed
// (paths made relative to the repository root by prefixing dir) and the
// remaining lines.
func parseAnnotations(output []byte, dir string) ([]Diagnostic, []byte) {
	var diags []Diagnostic
	var rest bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(output))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var a annotation
		if bytes.HasPrefix(line, []byte("{")) && json.Unmarshal(line, &a) == nil && a.Message != "" {
			diags = append(diags, Diagnostic{
				Path:    joinPath(dir, a.Path),
				Line:    a.StartLine,
				Column:  a.StartColumn,
				Rule:    a.Type,
				Message: a.Message,
			})
			continue
		}
		rest.Write(line)
		rest.WriteByte('\n')
	}
	return diags, rest.Bytes()
}

// parseFormatDiff turns the unified diff of `buf format --diff` into one
// diagnostic per file, positioned at its first changed line.
func parseFormatDiff(diff []byte, dir string) []Diagnostic {
	var diags []Diagnostic
	var cur *Diagnostic
	line := 0 // next line number in the old file, within a hunk
	for _, l := range strings.Split(string(diff), "\n") {
		switch {
		case strings.HasPrefix(l, "+++ "):
			name, _, _ := strings.Cut(strings.TrimPrefix(l, "+++ "), "\t")
			diags = append(diags, Diagnostic{Path: joinPath(dir, name), Rule: "FORMAT", Message: "not formatted"})
			cur = &diags[len(diags)-1]
		case strings.HasPrefix(l, "--- "):
		case strings.HasPrefix(l, "@@ "):
			// @@ -86,7 +86,7 @@
			old, _, _ := strings.Cut(strings.TrimPrefix(l, "@@ -"), " ")
			start, _, _ := strings.Cut(old, ",")
			line, _ = strconv.Atoi(start)
		case cur == nil || cur.Line > 0:
		case strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+"):
			cur.Line = max(line, 1)
		case strings.HasPrefix(l, " "):
			line++
		}
	}
	return diags
}

func joinPath(dir, p string) string {
	if p == "" {
		return dir
	}
	return path.Join(dir, p)
}
