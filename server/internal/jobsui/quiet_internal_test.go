package jobsui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/logtest"
)

// A query canceled by shutdown is logged at DEBUG, every other error as it
// came.
func TestCanceledIsNotAnError(t *testing.T) {
	t.Parallel()
	var buf logtest.Buffer
	log := slog.New(canceledIsNotAnError{slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})})
	log.Error("querycacher: Error running query", "err", fmt.Errorf("error counting jobs by state: %w", context.Canceled))
	log.Error("querycacher: Error running query", "err", errors.New("error counting jobs by state: context canceled"))
	log.Error("querycacher: Error running query", "err", errors.New("connection refused"))
	lines := buf.Lines(`"level":"ERROR"`)
	require.Len(t, lines, 1, "the canceled ones are below INFO: %s", buf.String())
	require.Contains(t, lines[0], `"err":"connection refused"`)
}
