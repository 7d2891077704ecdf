package logbuf_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/logbuf"
)

// sink records what reaches the underlying writer and how many writes.
type sink struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	err    error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.err != nil {
		return 0, s.err
	}
	return s.b.Write(p)
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func TestRecordsAreBatchedAndAllWrittenByClose(t *testing.T) {
	t.Parallel()
	out := &sink{}
	w := logbuf.New(out)
	log := slog.New(logbuf.Urgent(slog.NewTextHandler(w, nil), w, slog.LevelWarn))
	for i := range 100 {
		log.Info("rpc", "n", i)
	}
	require.Less(t, out.count(), 100, "one write per record: nothing is buffered")
	require.NoError(t, w.Close())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 100, "every record reaches the output by Close")
	for i, l := range lines {
		require.Contains(t, l, "msg=rpc n="+strconv.Itoa(i), "in order, whole")
	}
}

func TestBufferedRecordsGoOutWithinTheInterval(t *testing.T) {
	t.Parallel()
	out := &sink{}
	w := logbuf.New(out)
	t.Cleanup(func() { _ = w.Close() })
	slog.New(slog.NewTextHandler(w, nil)).Info("served")
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "msg=served") },
		10*logbuf.Interval, logbuf.Interval/10)
}

func TestWarningsAreWrittenAtOnceWithWhatCameBefore(t *testing.T) {
	t.Parallel()
	out := &sink{}
	w := logbuf.New(out)
	t.Cleanup(func() { _ = w.Close() })
	log := slog.New(logbuf.Urgent(slog.NewJSONHandler(w, nil), w, slog.LevelWarn)).With("component", "test")
	log.Info("before")
	log.Error("database unreachable")
	// No waiting: Handle returned after the write.
	got := out.String()
	require.Contains(t, got, `"msg":"before"`)
	require.Contains(t, got, `"msg":"database unreachable"`)
	require.Contains(t, got, `"component":"test"`, "WithAttrs keeps the flushing handler")
}

func TestAFullBufferIsWrittenWithoutWaiting(t *testing.T) {
	t.Parallel()
	out := &sink{}
	w := logbuf.New(out)
	t.Cleanup(func() { _ = w.Close() })
	line := bytes.Repeat([]byte("x"), 1024)
	for range logbuf.MaxBuffered/len(line) + 1 {
		_, err := w.Write(line)
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, len(out.String()), logbuf.MaxBuffered, "the buffer is bounded")
}

func TestWriteErrorsAreReported(t *testing.T) {
	t.Parallel()
	out := &sink{err: errors.New("disk full")}
	w := logbuf.New(out)
	_, err := w.Write([]byte("line\n"))
	require.NoError(t, err, "buffered: the error comes with the flush")
	require.ErrorContains(t, w.Close(), "disk full")
}
