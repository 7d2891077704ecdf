// Package webe2e runs the webapp's end-to-end journey in real Chromium
// (`go tool mage e2e`): it installs Debian's chromium when missing (root +
// apt-get), brings up a private stack on free ports (its own PostgreSQL,
// Kratos, mailbox, server, worker and one origin, so a developer's running
// stack is untouched), runs webapp/e2e/journey.mjs with playwright-core, and
// reports the journey's time, every step, the accessibility scans and the
// initial JavaScript size against their budgets. Screenshots of every page
// land in .dev/e2e/. Then it switches the same stack to dev:watch and back
// (CheckWatch).
package webe2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/internal/dev/devstack"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
	"github.com/groundwork-dev/groundwork/internal/toolchain/webbuild"
)

// JourneyBudget is the longest the journey may take (docs/performance.md).
const JourneyBudget = 20 * time.Second

// Options configure a run.
type Options struct {
	Root string // repository root
	Out  io.Writer
	Deps *sysdeps.Installer
	// Chromium is the browser binary; default sysdeps.ChromiumPath, else
	// chromium on PATH.
	Chromium string
}

// Step is one step of the journey.
type Step struct {
	Name string `json:"name"`
	MS   int    `json:"ms"`
}

// Scan is the accessibility scan of one page.
type Scan struct {
	Page       string   `json:"page"`
	URL        string   `json:"url"`
	Violations []string `json:"violations"`
	Serious    int      `json:"serious"`
}

// Result is what the journey script reports on its last line.
type Result struct {
	OK       bool     `json:"ok"`
	Failed   string   `json:"failed"`
	Problems []string `json:"problems"`
	// JourneyMS is the user's time: the whole run less the audits
	// (AuditMS: axe scans and screenshots) between the steps.
	JourneyMS int `json:"journeyMs"`
	TotalMS   int `json:"totalMs"`
	AuditMS   int `json:"auditMs"`
	// OutageMS is the database outage phase (the page waits it out and
	// recovers), timed apart from the journey.
	OutageMS int    `json:"outageMs"`
	Steps    []Step `json:"steps"`
	A11y     []Scan `json:"a11y"`
	Email    string `json:"email"`

	InitialJS webbuild.InitialJS `json:"-"`
}

// Journey is the time the journey took.
func (r Result) Journey() time.Duration { return time.Duration(r.JourneyMS) * time.Millisecond }

const resultPrefix = "E2E_RESULT "

// ParseResult finds the script's result line in its output.
func ParseResult(out string) (Result, error) {
	var r Result
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(lines[i], resultPrefix); ok {
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return r, fmt.Errorf("journey result: %w", err)
			}
			return r, nil
		}
	}
	return r, errors.New("the journey script printed no result line (it crashed; see its output above)")
}

// Check turns a result into an error listing everything that failed:
// the journey, a problem it saw (CSP, page errors, accessibility), or a
// budget.
func (r Result) Check() error {
	var errs []error
	if r.Failed != "" {
		errs = append(errs, fmt.Errorf("journey failed at %s", r.Failed))
	}
	for _, p := range r.Problems {
		errs = append(errs, errors.New(p))
	}
	if r.JourneyMS > 0 && r.Journey() > JourneyBudget {
		errs = append(errs, fmt.Errorf("journey took %s, over its budget of %s", r.Journey().Round(100*time.Millisecond), JourneyBudget))
	}
	if r.InitialJS.OverBudget() {
		errs = append(errs, fmt.Errorf("%s: over budget", r.InitialJS))
	}
	return errors.Join(errs...)
}

// Report prints the summary lines.
func (r Result) Report(w io.Writer) {
	fmt.Fprintf(w, "journey: %.1f s (budget %s), %d steps; %d pages scanned by axe-core (%d serious or critical violations) and photographed in another %.1f s; the database outage phase %.1f s apart (%.1f s in all)\n",
		r.Journey().Seconds(), JourneyBudget, len(r.Steps), len(r.A11y), r.serious(), float64(r.AuditMS)/1000, float64(r.OutageMS)/1000, float64(r.TotalMS)/1000)
	if minor := r.minorViolations(); minor != "" {
		fmt.Fprintf(w, "axe-core, below serious (not failing): %s\n", minor)
	}
	if len(r.InitialJS.Files) > 0 {
		fmt.Fprintf(w, "%s, %d files\n", r.InitialJS, len(r.InitialJS.Files))
	}
}

// minorViolations lists the moderate and minor rules that failed, with the
// number of pages each failed on.
func (r Result) minorViolations() string {
	count := map[string]int{}
	for _, s := range r.A11y {
		for _, v := range s.Violations {
			if !strings.HasPrefix(v, "serious ") && !strings.HasPrefix(v, "critical ") {
				count[v]++
			}
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%s on %d pages", k, count[k])
	}
	return strings.Join(keys, ", ")
}

func (r Result) serious() int {
	n := 0
	for _, s := range r.A11y {
		n += s.Serious
	}
	return n
}

// ScreenshotDir is where the screenshots go: .dev/e2e under the root.
func ScreenshotDir(root string) string { return filepath.Join(root, ".dev", "e2e") }

// Run runs the whole thing and fails on any failed step, problem or budget.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.Deps.Ensure(ctx, sysdeps.Chromium()); err != nil {
		return Result{}, err
	}
	if o.Chromium == "" {
		o.Chromium = sysdeps.ChromiumPath
		if _, err := os.Stat(o.Chromium); err != nil {
			if p, err := exec.LookPath("chromium"); err == nil {
				o.Chromium = p
			}
		}
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return Result{}, err
	}
	state, err := os.MkdirTemp("", "groundwork-e2e-")
	if err != nil {
		return Result{}, fmt.Errorf("e2e: %w", err)
	}
	defer os.RemoveAll(state)
	// The unprivileged PostgreSQL user must traverse it (devstack, root).
	if err := os.Chmod(state, 0o711); err != nil {
		return Result{}, fmt.Errorf("e2e: %w", err)
	}
	cfg, err := devstack.PrivateConfig(ctx, root, state)
	if err != nil {
		return Result{}, err
	}
	stack := devstack.New(cfg, prefixed(o.Out, "stack | "), o.Deps)
	defer func() {
		if err := stack.Reset(context.Background()); err != nil {
			fmt.Fprintf(o.Out, "e2e: tearing down the private stack: %v\n", err)
		}
	}()
	start := time.Now()
	if err := stack.Up(ctx); err != nil {
		return Result{}, fmt.Errorf("e2e: private stack: %w", err)
	}
	fmt.Fprintf(o.Out, "e2e: private stack up in %s at %s\n", time.Since(start).Round(100*time.Millisecond), cfg.WebOrigin())
	js, err := webbuild.MeasureInitialJS(cfg.WebDist())
	if err != nil {
		return Result{}, err
	}

	shots := ScreenshotDir(root)
	if err := os.RemoveAll(shots); err != nil {
		return Result{}, fmt.Errorf("e2e: clear screenshots: %w", err)
	}
	var buf strings.Builder
	cmd := exec.CommandContext(ctx, "node", filepath.Join("e2e", "journey.mjs"))
	cmd.Dir = cfg.WebappDir()
	cmd.Env = append(os.Environ(),
		"E2E_BASE_URL="+cfg.WebOrigin(),
		"E2E_MAILPIT_URL="+cfg.MailpitURL(),
		"E2E_CHROMIUM="+o.Chromium,
		"E2E_SCREENSHOTS="+shots,
		"E2E_OUTAGE=1",
	)
	answers, err := cmd.StdinPipe()
	if err != nil {
		return Result{}, fmt.Errorf("e2e: %w", err)
	}
	cmd.Stdout = io.MultiWriter(&buf, filtered(o.Out), outageControl(ctx, stack, answers, o.Out))
	cmd.Stderr = o.Out
	runErr := cmd.Run()
	res, perr := ParseResult(buf.String())
	res.InitialJS = js
	if perr != nil {
		return res, fmt.Errorf("e2e: %w (node: %w)", perr, runErr)
	}
	res.Report(o.Out)
	fmt.Fprintf(o.Out, "screenshots: %s\n", shots)
	if err := res.Check(); err != nil {
		return res, fmt.Errorf("e2e: %w", err)
	}
	if err := CheckWatch(ctx, cfg, o.Out, o.Deps); err != nil {
		return res, fmt.Errorf("e2e: %w", err)
	}
	return res, nil
}

// outagePrefix starts the journey's requests to take the database away
// ("down") and bring it back ("up").
const outagePrefix = "E2E_OUTAGE "

// outageControl carries out the journey's outage requests on the private
// stack's PostgreSQL and answers each on answers with its word once done,
// or with "failed" (which fails the journey's step).
func outageControl(ctx context.Context, stack *devstack.Stack, answers io.Writer, out io.Writer) io.Writer {
	return &lineWriter{emit: func(line string) {
		what, ok := strings.CutPrefix(line, outagePrefix)
		if !ok {
			return
		}
		var err error
		switch what {
		case "down":
			err = stack.StopDatabase(ctx)
		case "up":
			err = stack.StartDatabase(ctx)
		default:
			err = fmt.Errorf("unknown request %q", what)
		}
		if err != nil {
			fmt.Fprintf(out, "e2e: outage %s: %v\n", what, err)
			what = "failed"
		}
		_, _ = fmt.Fprintln(answers, what)
	}}
}

// lineWriter passes whole lines to emit, synchronously.
type lineWriter struct {
	mu   sync.Mutex
	part []byte
	emit func(line string)
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.emit(string(l.part[:i]))
		l.part = l.part[i+1:]
	}
}

// prefixed writes every line with a prefix.
func prefixed(w io.Writer, prefix string) io.Writer {
	return &lineWriter{emit: func(line string) { fmt.Fprintln(w, prefix+line) }}
}

// filtered drops the machine-readable result line from what people read.
func filtered(w io.Writer) io.Writer {
	return &lineWriter{emit: func(line string) {
		if !strings.HasPrefix(line, resultPrefix) {
			fmt.Fprintln(w, line)
		}
	}}
}
