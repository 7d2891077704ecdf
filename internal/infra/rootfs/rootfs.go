// Package rootfs builds a Debian root filesystem with debootstrap, once per
// machine and package list, into the user's cache (package usercache), and
// copies it out for a caller. The Ansible roles run for real inside such a
// copy through Ansible's chroot connection: no VM or container engine is
// needed, only root and Debian's archive.
package rootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/shared/lastlines"
	"github.com/groundwork-dev/groundwork/internal/shared/usercache"
)

// Spec says which root filesystem to build.
type Spec struct {
	Suite    string   // Debian release, e.g. bookworm
	Mirror   string   // Debian archive URL
	Packages []string // added to debootstrap's minbase variant
}

// Bookworm is Debian 12 — the release the Terraform code boots — with what
// Ansible needs inside (python3, python3-apt) and the programs the
// node_prep role installs, so a run against a copy needs no Debian archive.
var Bookworm = Spec{
	Suite:  "bookworm",
	Mirror: "http://deb.debian.org/debian",
	Packages: []string{
		"python3", "python3-apt", "systemd", "procps", "kmod",
		"ca-certificates", "conntrack", "ethtool", "iproute2", "iptables", "socat",
	},
}

// tarball is the cached archive's name inside its cache entry.
const tarball = "rootfs.tar"

// key names the cache entry: a new package list, suite, mirror or
// architecture is a new root filesystem.
func (s Spec) key() string {
	h := sha256.Sum256([]byte(strings.Join([]string{"v1", s.Suite, s.Mirror, runtime.GOARCH, strings.Join(s.Packages, ",")}, "\n")))
	return s.Suite + "-" + hex.EncodeToString(h[:])[:12]
}

// Ensure returns the path of the root filesystem's archive, running
// debootstrap first when no clone on this machine has built it yet (about
// a minute with a nearby mirror; ~300 MB). It needs root and debootstrap.
func Ensure(ctx context.Context, s Spec, out io.Writer) (string, error) {
	dir, err := usercache.Fill(ctx, "rootfs", s.key(), func(ctx context.Context, dir string) error {
		return build(ctx, s, dir, out)
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, tarball), nil
}

func build(ctx context.Context, s Spec, dir string, out io.Writer) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("building a Debian root filesystem needs root (debootstrap)")
	}
	bin, err := exec.LookPath("debootstrap")
	if err != nil {
		return fmt.Errorf("building a Debian root filesystem needs debootstrap: install it with: sudo apt-get install -y debootstrap")
	}
	fmt.Fprintf(out, "building a Debian %s root filesystem with debootstrap into the user's cache (first time on this machine: a minute or more)\n", s.Suite)
	root := filepath.Join(dir, "root")
	if err := run(ctx, bin, "--variant=minbase", "--include="+strings.Join(s.Packages, ","), s.Suite, root, s.Mirror); err != nil {
		return fmt.Errorf("debootstrap %s from %s: %w", s.Suite, s.Mirror, err)
	}
	// A copy must not inherit the archive's lists and downloaded packages:
	// they are stale the day after and a third of the size.
	for _, p := range []string{"var/cache/apt/archives", "var/lib/apt/lists"} {
		if err := emptyDir(filepath.Join(root, p)); err != nil {
			return err
		}
	}
	if err := run(ctx, "tar", "--numeric-owner", "--xattrs", "-C", root, "-cf", filepath.Join(dir, tarball), "."); err != nil {
		return fmt.Errorf("archive the root filesystem: %w", err)
	}
	return os.RemoveAll(root)
}

// Extract unpacks the archive Ensure returned into dir (made if missing),
// keeping owners, modes and device files.
func Extract(ctx context.Context, archive, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := run(ctx, "tar", "--numeric-owner", "--xattrs", "-xpf", archive, "-C", dir); err != nil {
		return fmt.Errorf("unpack the root filesystem into %s: %w", dir, err)
	}
	return nil
}

func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() && (e.Name() == "partial" || e.Name() == "auxfiles") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("clean %s: %w", dir, err)
		}
	}
	return nil
}

// run runs a command, returning its last output lines in the error.
func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, lastlines.Of(string(out), 30))
	}
	return nil
}
