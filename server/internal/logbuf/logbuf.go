// Package logbuf takes the write system call out of the request path: log
// records are copied into a buffer that a background goroutine writes out
// every Interval (or when it holds MaxBuffered bytes), instead of one
// write(2) per record. Under load the request log line was the server's
// most expensive layer after the database round trip, mostly that call and
// the lock held across it.
//
// What a buffer costs is the last Interval of output if the process dies
// without running Close. Records at WARN or above (Urgent) are written out
// at once, so the lines that explain a failure are never the ones held
// back; Close writes the rest on every orderly exit.
package logbuf

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Defaults for New.
const (
	Interval    = 100 * time.Millisecond
	MaxBuffered = 256 << 10
)

// Writer buffers what is written to it and writes it to the underlying
// writer in the background. It is safe for concurrent use; each Write is
// kept whole (slog handlers write one record per call).
type Writer struct {
	out io.Writer

	mu     sync.Mutex // guards buf
	buf    []byte
	outMu  sync.Mutex // serializes writes to out, in order
	spare  []byte     // the other buffer, owned by whoever holds outMu
	err    error      // first error writing to out, guarded by outMu
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// New returns a Writer over out that flushes every Interval.
func New(out io.Writer) *Writer {
	w := &Writer{out: out, buf: make([]byte, 0, 64<<10), spare: make([]byte, 0, 64<<10),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop(Interval)
	return w
}

func (w *Writer) loop(every time.Duration) {
	defer close(w.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = w.Flush()
		case <-w.stop:
			return
		}
	}
}

// Write copies p into the buffer; it writes the buffer out first when it
// holds MaxBuffered bytes, so a burst cannot grow it without bound.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= MaxBuffered
	w.mu.Unlock()
	if full {
		if err := w.Flush(); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// Flush writes out everything written so far.
func (w *Writer) Flush() error {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	w.mu.Lock()
	w.buf, w.spare = w.spare[:0], w.buf
	w.mu.Unlock()
	if len(w.spare) == 0 {
		return w.err
	}
	if _, err := w.out.Write(w.spare); err != nil && w.err == nil {
		w.err = err
	}
	return w.err
}

// Close stops the background writes and writes out the rest. Writes after
// Close go to the buffer and out with the next Flush.
func (w *Writer) Close() error {
	w.closed.Do(func() { close(w.stop) })
	<-w.done
	return w.Flush()
}

// Urgent wraps h so that records at level or above are written out as soon
// as h has handled them.
func Urgent(h slog.Handler, w *Writer, level slog.Level) slog.Handler {
	return urgent{Handler: h, w: w, level: level}
}

type urgent struct {
	slog.Handler
	w     *Writer
	level slog.Level
}

func (u urgent) Handle(ctx context.Context, r slog.Record) error {
	err := u.Handler.Handle(ctx, r)
	if r.Level >= u.level {
		err = errors.Join(err, u.w.Flush())
	}
	return err
}

func (u urgent) WithAttrs(attrs []slog.Attr) slog.Handler {
	return urgent{Handler: u.Handler.WithAttrs(attrs), w: u.w, level: u.level}
}

func (u urgent) WithGroup(name string) slog.Handler {
	return urgent{Handler: u.Handler.WithGroup(name), w: u.w, level: u.level}
}
