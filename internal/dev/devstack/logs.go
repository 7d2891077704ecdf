package devstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
)

// logFiles lists the components' logs: .dev/logs/*.log and PostgreSQL's.
func (s *Stack) logFiles() []string {
	files, _ := filepath.Glob(filepath.Join(s.cfg.LogDir(), "*.log"))
	pg := s.cfg.PGLogFile()
	if !containsPath(files, pg) {
		files = append(files, pg)
	}
	sort.Strings(files)
	return files
}

func containsPath(list []string, p string) bool {
	for _, l := range list {
		if l == p {
			return true
		}
	}
	return false
}

// Logs prints the last lines of every component's log and follows them,
// each line prefixed with its component, until ctx is cancelled.
func (s *Stack) Logs(ctx context.Context) error {
	type tail struct {
		name   string
		path   string
		offset int64
		part   []byte
	}
	var tails []*tail
	for _, f := range s.logFiles() {
		t := &tail{name: strings.TrimSuffix(filepath.Base(f), ".log"), path: f}
		if fi, err := os.Stat(f); err == nil && fi.Size() > 4096 {
			t.offset = fi.Size() - 4096 // about the last screenful
		}
		tails = append(tails, t)
	}
	if len(tails) == 0 {
		return fmt.Errorf("no logs under %s: is the stack up? (go tool mage dev:up)", s.cfg.LogDir())
	}
	buf := make([]byte, 64<<10)
	for {
		for _, t := range tails {
			f, err := os.Open(t.path)
			if err != nil {
				continue
			}
			if fi, err := f.Stat(); err == nil && fi.Size() < t.offset {
				t.offset = 0 // truncated or replaced
			}
			for {
				n, err := f.ReadAt(buf, t.offset)
				if n > 0 {
					t.offset += int64(n)
					t.part = append(t.part, buf[:n]...)
					for {
						i := bytes.IndexByte(t.part, '\n')
						if i < 0 {
							break
						}
						fmt.Fprintf(s.out, "%-10s | %s\n", t.name, t.part[:i])
						t.part = t.part[i+1:]
					}
				}
				if err != nil || n == 0 {
					break
				}
			}
			f.Close()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Shell runs psql on the app database as the schema owner (migrator), with
// its certificate, attached to the terminal.
func (s *Stack) Shell(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := s.deps.Ensure(ctx, sysdeps.PostgreSQLClient()); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "psql", s.cfg.DatabaseURL(RoleMigrator, DBApp))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("psql: %w", err)
	}
	return nil
}
