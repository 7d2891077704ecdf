// Package sysdeps makes sure the system programs the project runs
// (PostgreSQL's server binaries, Chromium) are installed. When one is
// missing and the caller is root on a Debian or Ubuntu machine, it installs
// the package with apt-get; otherwise it stops with the exact command to run.
package sysdeps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"sync"
)

// Package is a Debian package and how to tell whether it is usable already.
type Package struct {
	Name      string       // Debian package name
	Why       string       // what the project needs it for, for messages
	Installed func() bool  // reports whether it is usable as is
	Prepare   func() error // runs before installing (e.g. apt-get policy files)
}

// ErrMissing means a package is missing and could not be installed here.
var ErrMissing = errors.New("required system package missing")

// Installer installs missing packages, running `apt-get update` at most once.
type Installer struct {
	Out io.Writer
	// CanInstall reports whether apt-get may be used: root on a Debian-like
	// system. Replaced in tests.
	CanInstall func() bool
	// Run runs a command; replaced in tests.
	Run func(ctx context.Context, name string, args ...string) error

	once      sync.Once
	updateErr error
}

// New returns an installer that writes progress to out.
func New(out io.Writer) *Installer {
	return &Installer{Out: out, CanInstall: aptAvailable, Run: run(out)}
}

func aptAvailable() bool {
	if os.Geteuid() != 0 {
		return false
	}
	_, err := exec.LookPath("apt-get")
	return err == nil
}

func run(out io.Writer) func(ctx context.Context, name string, args ...string) error {
	return func(ctx context.Context, name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.Run()
	}
}

// Ensure installs the packages that are not usable yet.
func (i *Installer) Ensure(ctx context.Context, pkgs ...Package) error {
	var missing []Package
	for _, p := range pkgs {
		if !p.Installed() {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, len(missing))
	for k, p := range missing {
		names[k] = p.Name
	}
	cmd := "sudo apt-get install -y --no-install-recommends " + strings.Join(names, " ")
	if !i.CanInstall() {
		return fmt.Errorf("%w: %s (%s); install with: %s", ErrMissing, strings.Join(names, ", "), missing[0].Why, cmd)
	}
	for _, p := range missing {
		if p.Prepare != nil {
			if err := p.Prepare(); err != nil {
				return fmt.Errorf("prepare installing %s: %w", p.Name, err)
			}
		}
	}
	fmt.Fprintf(i.Out, "installing %s with apt-get (%s)\n", strings.Join(names, " "), missing[0].Why)
	i.once.Do(func() { i.updateErr = i.Run(ctx, "apt-get", "update", "-q") })
	if i.updateErr != nil {
		return fmt.Errorf("apt-get update: %w", i.updateErr)
	}
	args := append([]string{"install", "-y", "-q", "--no-install-recommends"}, names...)
	if err := i.Run(ctx, "apt-get", args...); err != nil {
		return fmt.Errorf("apt-get install %s: %w", strings.Join(names, " "), err)
	}
	for _, p := range missing {
		if !p.Installed() {
			return fmt.Errorf("%w: %s is still not usable after apt-get install", ErrMissing, p.Name)
		}
	}
	return nil
}

// UserExists reports whether an OS user exists.
func UserExists(name string) bool {
	_, err := user.Lookup(name)
	return err == nil
}
