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
func (c Config) MailpitSMTPAddr() string { return c.addr(c.Port(EnvMailpitSMTPPort)) }

// MailpitURL is the mailbox's web UI and API.
func (c Config) MailpitURL() string { return "http://" + c.addr(c.Port(EnvMailpitUIPort)) }

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
		Args: []string{"--smtp", s.cfg.MailpitSMTPAddr(), "--listen", s.cfg.addr(s.cfg.Port(EnvMailpitUIPort)),
			"--database", filepath.Join(s.cfg.mailpitRunDir(), "mailpit.db"),
			"--disable-version-check", "--max", "500"},
		Dir:     s.cfg.Root,
		LogFile: filepath.Join(s.cfg.LogDir(), "mailpit.log"),
		PIDFile: filepath.Join(s.cfg.mailpitRunDir(), "mailpit.pid"),
		Ports:   []string{s.cfg.MailpitSMTPAddr(), s.cfg.addr(s.cfg.Port(EnvMailpitUIPort))},
		Ready:   func(ctx context.Context) error { return httpOK(ctx, s.cfg.MailpitURL()+"/readyz") },
	}
}

// mailpitComponent is the local mailbox.
type mailpitComponent struct{}

func (mailpitComponent) Name() string { return "mailpit" }

func (mailpitComponent) Ports() []Port {
	return []Port{{EnvMailpitSMTPPort, 1025}, {EnvMailpitUIPort, 8025}}
}

// Up builds Mailpit once per machine (from the Go module proxy) and runs it.
func (mailpitComponent) Up(ctx context.Context, s *Stack) error {
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

func (mailpitComponent) Down(ctx context.Context, s *Stack) error {
	return s.stopProcess(ctx, s.mailpitProcess("mailpit"))
}

func (mailpitComponent) Check(ctx context.Context, s *Stack) []ComponentStatus {
	st := ComponentStatus{Name: "mailpit", Address: s.cfg.MailpitURL() + " (SMTP " + s.cfg.MailpitSMTPAddr() + ")"}
	ready := func(ctx context.Context) error { return httpOK(ctx, s.cfg.MailpitURL()+"/readyz") }
	return []ComponentStatus{processStatus(ctx, st, s.mailpitProcess("mailpit"), ready, "healthy (Kratos's mail lands here)")}
}
