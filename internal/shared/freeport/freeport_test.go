package freeport

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Ports come from below the ephemeral range, so that no outgoing
// connection can take one before the caller binds it. (Whether a returned
// port is still free when the caller binds it is not asserted: other test
// processes pick from the same range at the same time.)
func TestPickIsBelowTheEphemeralRange(t *testing.T) {
	t.Parallel()
	lo, hi := Range()
	require.Less(t, lo, hi)
	for range 20 {
		p, err := Pick(t.Context())
		require.NoError(t, err)
		require.GreaterOrEqual(t, p, lo)
		require.Less(t, p, hi)
	}
}

// What listening on port 0 gives — the pattern Pick replaced — lies in
// the ephemeral range, outside Range: the reason for this package.
func TestPortZeroIsOutsideTheRange(t *testing.T) {
	t.Parallel()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	_, portStr, _ := strings.Cut(l.Addr().String(), ":")
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	_, hi := Range()
	require.GreaterOrEqual(t, port, hi, "the kernel gave port %d from below the ephemeral range start %d", port, hi)
}

func TestDistinctReturnsDifferentFreePorts(t *testing.T) {
	t.Parallel()
	ports, err := Distinct(t.Context(), 11)
	require.NoError(t, err)
	seen := map[int]bool{}
	for _, p := range ports {
		require.False(t, seen[p], "port %d twice", p)
		seen[p] = true
	}
}

func TestCheckFree(t *testing.T) {
	t.Parallel()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	err = CheckFree(t.Context(), addr)
	require.ErrorIs(t, err, ErrInUse)
	require.EqualError(t, err, addr+" is held by another program: port in use")
	require.NoError(t, l.Close())
	require.NoError(t, CheckFree(t.Context(), addr), "a closed listener's port is free again")
}

// TestMain doubles as the second process of the reservation test: with
// helperEnv set it picks ports in a small range, prints them, and keeps
// them reserved until its standard input closes.
const helperEnv = "FREEPORT_TEST_PICKER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(pickAndHold())
	}
	os.Exit(m.Run())
}

const (
	testLo, testHi = 31000, 31200 // below the ephemeral range
	testPicks      = 80
)

func pickAndHold() int {
	for range testPicks {
		p, err := pick(context.Background(), testLo, testHi)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(p)
	}
	fmt.Println("done")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// Ports one process picked are not handed to another while the first
// runs: picks from a range of 200 by two processes, 80 each, never meet
// (without the reservations some 30 would).
func TestAnotherProcessGetsOtherPorts(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	theirs := map[int]bool{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "done" {
		p, err := strconv.Atoi(sc.Text())
		require.NoError(t, err)
		theirs[p] = true
	}
	require.Len(t, theirs, testPicks, "the other process picked its ports")

	for range testPicks {
		p, err := pick(t.Context(), testLo, testHi)
		require.NoError(t, err)
		require.False(t, theirs[p], "port %d went to both processes", p)
	}
}

// One process never gets the same port twice.
func TestPickNeverRepeats(t *testing.T) {
	t.Parallel()
	seen := map[int]bool{}
	for range 300 {
		p, err := Pick(t.Context())
		require.NoError(t, err)
		require.False(t, seen[p], "port %d twice", p)
		seen[p] = true
	}
}
