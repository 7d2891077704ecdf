package sysdeps

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type fakeApt struct {
	calls     []string
	installed map[string]bool
	fail      string
}

func (f *fakeApt) run(_ context.Context, name string, args ...string) error {
	call := name + " " + strings.Join(args, " ")
	f.calls = append(f.calls, call)
	if f.fail != "" && strings.Contains(call, f.fail) {
		return errors.New("exit status 100")
	}
	if args[0] == "install" {
		for _, a := range args[1:] {
			if !strings.HasPrefix(a, "-") {
				f.installed[a] = true
			}
		}
	}
	return nil
}

func (f *fakeApt) pkg(name string) Package {
	return Package{Name: name, Why: "testing", Installed: func() bool { return f.installed[name] }}
}

func setup(canInstall bool) (*Installer, *fakeApt, *bytes.Buffer) {
	f := &fakeApt{installed: map[string]bool{}}
	out := &bytes.Buffer{}
	return &Installer{Out: out, CanInstall: func() bool { return canInstall }, Run: f.run}, f, out
}

func TestEnsureDoesNothingWhenInstalled(t *testing.T) {
	t.Parallel()
	inst, f, _ := setup(true)
	f.installed["a"] = true
	require.NoError(t, inst.Ensure(context.Background(), f.pkg("a")))
	require.Empty(t, f.calls)
}

func TestEnsureInstallsMissingPackagesAndUpdatesOnce(t *testing.T) {
	t.Parallel()
	inst, f, out := setup(true)
	require.NoError(t, inst.Ensure(context.Background(), f.pkg("a"), f.pkg("b")))
	require.NoError(t, inst.Ensure(context.Background(), f.pkg("c")))
	require.Equal(t, []string{
		"apt-get update -q",
		"apt-get install -y -q --no-install-recommends a b",
		"apt-get install -y -q --no-install-recommends c",
	}, f.calls)
	require.Contains(t, out.String(), "installing a b with apt-get")
}

func TestEnsureWithoutRootNamesTheInstallCommand(t *testing.T) {
	t.Parallel()
	inst, f, _ := setup(false)
	err := inst.Ensure(context.Background(), f.pkg("postgresql"))
	require.ErrorIs(t, err, ErrMissing)
	require.Contains(t, err.Error(), "sudo apt-get install -y --no-install-recommends postgresql")
	require.Empty(t, f.calls, "nothing may run without permission to install")
}

func TestEnsureReportsAFailedInstall(t *testing.T) {
	t.Parallel()
	inst, f, _ := setup(true)
	f.fail = "install"
	err := inst.Ensure(context.Background(), f.pkg("a"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "apt-get install")
}

func TestEnsureFailsWhenThePackageStillIsNotUsable(t *testing.T) {
	t.Parallel()
	inst, f, _ := setup(true)
	p := Package{Name: "ghost", Why: "testing", Installed: func() bool { return false }}
	err := inst.Ensure(context.Background(), p)
	require.ErrorIs(t, err, ErrMissing)
	require.Contains(t, err.Error(), "still not usable")
	require.Len(t, f.calls, 2)
}

func TestChromiumIsTheDebianPackage(t *testing.T) {
	t.Parallel()
	p := Chromium()
	require.Equal(t, "chromium", p.Name)
	require.NotEmpty(t, p.Why)
	inst, f, _ := setup(false)
	if p.Installed() {
		require.NoError(t, inst.Ensure(context.Background(), p))
		require.Empty(t, f.calls)
		return
	}
	err := inst.Ensure(context.Background(), p)
	require.ErrorIs(t, err, ErrMissing)
	require.Contains(t, err.Error(), "sudo apt-get install -y --no-install-recommends chromium")
}
