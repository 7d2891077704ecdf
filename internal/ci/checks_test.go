package ci

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	errLint   = errors.New("lint found problems")
	errWebapp = errors.New("type check failed")
	errE2E    = errors.New("journey failed")
)

type ctxKey struct{}

// recorder stands in for CI's checks: each step records that it ran and
// with which context, and fails with the error given for its name.
type recorder struct {
	ran  []string
	ctxs []any
}

// stepsFailing returns stand-in steps named names; a step whose name is a
// key of fail returns that error.
func (r *recorder) stepsFailing(t *testing.T, names []string, fail map[string]error) []step {
	t.Helper()
	steps := make([]step, 0, len(names))
	for _, name := range names {
		steps = append(steps, step{name: name, run: func(ctx context.Context) error {
			r.ran = append(r.ran, name)
			r.ctxs = append(r.ctxs, ctx.Value(ctxKey{}))
			return fail[name]
		}})
	}
	return steps
}

var fiveSteps = []string{"lint", "generated code current", "test", "webapp", "e2e"}

// A failing step does not stop the run: every later step still runs, in
// order, with the caller's context; the summary shows each step's state and
// the error carries every failure, named by its step.
func TestRunStepsContinuesPastFailures(t *testing.T) {
	t.Parallel()
	var r recorder
	steps := r.stepsFailing(t, fiveSteps, map[string]error{"lint": errLint, "webapp": errWebapp})
	var out bytes.Buffer
	ctx := context.WithValue(t.Context(), ctxKey{}, "caller")

	err := runSteps(ctx, &out, steps)

	require.Equal(t, fiveSteps, r.ran, "every step runs, in order, failures notwithstanding")
	require.Equal(t, []any{"caller", "caller", "caller", "caller", "caller"}, r.ctxs)
	require.Error(t, err)
	require.ErrorIs(t, err, errLint)
	require.ErrorIs(t, err, errWebapp)
	require.NotErrorIs(t, err, errE2E)
	require.EqualError(t, err, "lint: lint found problems\nwebapp: type check failed")
	// The stand-ins return at once: every duration rounds to 0s.
	require.Equal(t, `
=== ci: lint

=== ci: generated code current

=== ci: test

=== ci: webapp

=== ci: e2e

=== ci summary
  lint                     FAILED 0s
  generated code current   ok     0s
  test                     ok     0s
  webapp                   FAILED 0s
  e2e                      ok     0s
`, out.String())
}

// The last step failing is reported as well as the first.
func TestRunStepsReportsAFailingLastStep(t *testing.T) {
	t.Parallel()
	var r recorder
	steps := r.stepsFailing(t, []string{"a", "b"}, map[string]error{"b": errE2E})
	var out bytes.Buffer

	err := runSteps(t.Context(), &out, steps)

	require.Equal(t, []string{"a", "b"}, r.ran)
	require.ErrorIs(t, err, errE2E)
	require.NotErrorIs(t, err, errLint)
	require.EqualError(t, err, "b: journey failed")
	require.Contains(t, out.String(), "\n  a                        ok     0s\n  b                        FAILED 0s\n")
}

func TestRunStepsAllOKReturnsNil(t *testing.T) {
	t.Parallel()
	var r recorder
	steps := r.stepsFailing(t, fiveSteps, nil)
	var out bytes.Buffer

	err := runSteps(t.Context(), &out, steps)

	require.NoError(t, err)
	require.Equal(t, fiveSteps, r.ran)
	require.NotContains(t, out.String(), "FAILED")
	require.Contains(t, out.String(), "=== ci summary\n  lint                     ok     0s\n")
}

// CI runs the project's checks in this order: the quick ones first.
func TestCIStepsAreTheChecksInOrder(t *testing.T) {
	t.Parallel()
	steps := Checks{Root: t.TempDir(), Out: &bytes.Buffer{}}.steps()
	names := make([]string, 0, len(steps))
	for _, s := range steps {
		require.NotNil(t, s.run, s.name)
		names = append(names, s.name)
	}
	require.Equal(t, []string{"lint", "generated code current", "infra", "ansible", "test", "webapp", "e2e"}, names)
}
