package freeport

import (
	"context"
	"errors"
	"net"
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

func TestDistinctSkipsRepeats(t *testing.T) {
	t.Parallel()
	seq := []int{20001, 20001, 20002, 20001, 20003}
	pick := func(context.Context) (int, error) {
		p := seq[0]
		seq = seq[1:]
		return p, nil
	}
	got, err := distinct(t.Context(), 3, pick)
	require.NoError(t, err)
	require.Equal(t, []int{20001, 20002, 20003}, got)
}

func TestDistinctGivesUp(t *testing.T) {
	t.Parallel()
	same := func(context.Context) (int, error) { return 20001, nil }
	_, err := distinct(t.Context(), 2, same)
	require.ErrorContains(t, err, "find 2 different free ports: only 1 after 100 tries")

	broken := errors.New("no ports today")
	_, err = distinct(t.Context(), 2, func(context.Context) (int, error) { return 0, broken })
	require.ErrorIs(t, err, broken)
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
