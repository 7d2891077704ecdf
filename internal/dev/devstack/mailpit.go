package devstack

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/groundwork-dev/groundwork/internal/shared/toolbuild"
)

// The local mailbox: Mailpit, built from tools/mailpit, receives everything
// Kratos's courier sends (verification and recovery codes) on
// MailpitSMTPPort and shows it on MailpitUIPort (web UI and JSON API,
// e.g. GET /api/v1/messages). Nothing leaves the machine.

// MailpitSMTPAddr is the mailbox's SMTP listener.
func (c Config) MailpitSMTPAddr() string { return c.addr(c.MailpitSMTPPort) }

// MailpitURL is the mailbox's web UI and API.
func (c Config) MailpitURL() string { return "http://" + c.addr(c.MailpitUIPort) }

func (c Config) mailpitRunDir() string { return filepath.Join(c.StateDir(), "mailpit") }

// courierSMTPURI is Kratos's courier target: the mailbox, cleartext (local
// only; a cluster sets smtps:// to a real server).
func (c Config) courierSMTPURI() string {
	return "smtp://" + c.MailpitSMTPAddr() + "/?disable_starttls=true"
}

func (s *Stack) mailpitProcess(bin string) *process {
	return &process{
		Name: "mailpit",
		Bin:  bin,
		Args: []string{"--smtp", s.cfg.MailpitSMTPAddr(), "--listen", s.cfg.addr(s.cfg.MailpitUIPort),
			"--database", filepath.Join(s.cfg.mailpitRunDir(), "mailpit.db"),
			"--disable-version-check", "--max", "500"},
		Dir:     s.cfg.Root,
		LogFile: filepath.Join(s.cfg.LogDir(), "mailpit.log"),
		PIDFile: filepath.Join(s.cfg.mailpitRunDir(), "mailpit.pid"),
		Ports:   []string{s.cfg.MailpitSMTPAddr(), s.cfg.addr(s.cfg.MailpitUIPort)},
		Ready:   func(ctx context.Context) error { return httpOK(ctx, s.cfg.MailpitURL()+"/readyz") },
	}
}

func (c Config) mailpitBin() string { return filepath.Join(c.Root, ".cache", "bin", "mailpit") }

// upMailpit builds Mailpit once (from the Go module proxy) and runs it.
func (s *Stack) upMailpit(ctx context.Context) error {
	bin, err := toolbuild.Ensure(ctx, s.cfg.Root, toolbuild.Mailpit, s.out)
	if err != nil {
		return fmt.Errorf("mailpit: %w", err)
	}
	started, err := s.mailpitProcess(bin).Start(ctx)
	if err != nil {
		return err
	}
	if started {
		fmt.Fprintf(s.out, "mailpit       started: SMTP %s, mailbox %s\n", s.cfg.MailpitSMTPAddr(), s.cfg.MailpitURL())
	}
	return nil
}

func (s *Stack) downMailpit(ctx context.Context) error {
	p := s.mailpitProcess(s.cfg.mailpitBin())
	if _, ok := p.PID(); !ok {
		return nil
	}
	if err := p.Stop(ctx); err != nil {
		return fmt.Errorf("mailpit: stop: %w", err)
	}
	fmt.Fprintln(s.out, "mailpit       stopped")
	return nil
}

func (s *Stack) checkMailpit(ctx context.Context) ComponentStatus {
	st := ComponentStatus{Name: "mailpit", State: "stopped", Address: s.cfg.MailpitURL() + " (SMTP " + s.cfg.MailpitSMTPAddr() + ")", Health: "not running (go tool mage dev:up)"}
	if pid, ok := s.mailpitProcess(s.cfg.mailpitBin()).PID(); ok {
		st.State = fmt.Sprintf("running (pid %d)", pid)
		if err := httpOK(ctx, s.cfg.MailpitURL()+"/readyz"); err != nil {
			st.Health = err.Error()
		} else {
			st.Health, st.Healthy = "healthy (Kratos's mail lands here)", true
		}
	}
	return st
}
