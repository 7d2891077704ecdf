package webe2e

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
	"github.com/groundwork-dev/groundwork/internal/toolchain/webbuild"
)

func TestParseResultAndCheck(t *testing.T) {
	t.Parallel()
	out := "  ok  register (900 ms)\nE2E_RESULT {\"ok\":true,\"journeyMs\":8123,\"totalMs\":9000,\"auditMs\":877,\"outageMs\":6500,\"steps\":[{\"name\":\"register\",\"ms\":900}],\"a11y\":[{\"page\":\"login\",\"violations\":[\"moderate region\"],\"serious\":0}]}\n"
	r, err := ParseResult(out)
	require.NoError(t, err)
	require.True(t, r.OK)
	require.Equal(t, 8123*time.Millisecond, r.Journey())
	require.Len(t, r.Steps, 1)
	r.InitialJS = webbuild.InitialJS{Files: []string{"/assets/index.js"}, GzipBytes: 100 << 10}
	require.NoError(t, r.Check())
	var buf bytes.Buffer
	r.Report(&buf)
	require.Contains(t, buf.String(), "journey: 8.1 s (budget 20s), 1 steps; 1 pages scanned by axe-core (0 serious or critical violations) and photographed in another 0.9 s; the database outage phase 6.5 s apart (9.0 s in all)")
	require.Contains(t, buf.String(), "initial JS: 100.0 KB gzip (budget 150 KB)")
	require.Contains(t, buf.String(), "axe-core, below serious (not failing): moderate region on 1 pages")

	_, err = ParseResult("node crashed\n")
	require.ErrorContains(t, err, "no result line")
	_, err = ParseResult("E2E_RESULT {not json\n")
	require.ErrorContains(t, err, "journey result")
}

func TestCheckNamesEveryFailure(t *testing.T) {
	t.Parallel()
	r := Result{Failed: "rename: timeout", Problems: []string{"a11y login: serious color-contrast"}, JourneyMS: 25_000,
		InitialJS: webbuild.InitialJS{GzipBytes: 151 << 10}}
	err := r.Check()
	require.Error(t, err)
	for _, want := range []string{"journey failed at rename: timeout", "color-contrast", "over its budget of 20s", "initial JS: 151.0 KB gzip (budget 150 KB): over budget"} {
		require.Contains(t, err.Error(), want)
	}
}

func TestFilteredDropsTheResultLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := filtered(&buf)
	_, _ = w.Write([]byte("a\nE2E_RESULT {}\nb"))
	_, _ = w.Write([]byte("c\n"))
	require.Equal(t, "a\nbc\n", buf.String())
}

// TestJourney is the whole end-to-end run (what `go tool mage e2e` does).
// It needs Chromium, Node with webapp/node_modules, and a few minutes, so
// it runs only when asked: GROUNDWORK_E2E=1 go test ./internal/e2e.
func TestJourney(t *testing.T) {
	if os.Getenv("GROUNDWORK_E2E") == "" {
		t.Skip("the browser journey runs with GROUNDWORK_E2E=1 (or go tool mage e2e, which CI runs)")
	}
	var out strings.Builder
	w := &syncBuilder{b: &out}
	res, err := Run(context.Background(), Options{Root: "../../..", Out: w, Deps: sysdeps.New(w)})
	w.mu.Lock()
	t.Log(out.String())
	w.mu.Unlock()
	require.NoError(t, err)
	require.True(t, res.OK)
}

// syncBuilder: the stack and the node process write concurrently.
type syncBuilder struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// The journey's outage requests reach the stack and are answered; an
// unknown one is answered "failed", which fails the journey's step.
func TestOutageControlAnswersUnknownRequests(t *testing.T) {
	t.Parallel()
	var answers, out bytes.Buffer
	w := outageControl(t.Context(), nil, &answers, &out)
	_, err := w.Write([]byte("  ok  log in (300 ms)\nE2E_OUTAGE sideways\n"))
	require.NoError(t, err)
	require.Equal(t, "failed\n", answers.String())
	require.Contains(t, out.String(), `outage sideways: unknown request "sideways"`)
}
