package messengergen

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// A Diagnostic is one problem found in a routing spec, at a position in it.
type Diagnostic struct {
	Filename string // the spec's name as passed to Generate
	Line     int    // 1-based
	Column   int    // 1-based
	Message  string
}

// String formats d as "file:line:col: message".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", d.Filename, d.Line, d.Column, d.Message)
}

// Diagnostics is the list of every problem found in a spec, sorted by position.
// Generate returns it as its error when the spec is illegal; use errors.As to
// get at the individual problems.
type Diagnostics []Diagnostic

// Error formats the list one problem per line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// position is a 1-based line and column in the spec.
type position struct{ line, col int }

func (p position) String() string { return fmt.Sprintf("%d:%d", p.line, p.col) }

// diagList collects diagnostics while a spec is checked.
type diagList struct {
	filename string
	list     Diagnostics
}

func (l *diagList) errorf(p position, format string, args ...any) {
	if p.line < 1 {
		p.line = 1
	}
	if p.col < 1 {
		p.col = 1
	}
	l.list = append(l.list, Diagnostic{Filename: l.filename, Line: p.line, Column: p.col, Message: fmt.Sprintf(format, args...)})
}

// sorted returns the diagnostics sorted by position then message, without duplicates.
func (l *diagList) sorted() Diagnostics {
	ds := slices.Clone(l.list)
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), strings.Compare(a.Message, b.Message))
	})
	return slices.Compact(ds)
}
