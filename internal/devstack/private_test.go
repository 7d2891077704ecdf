package devstack

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// Ports for private stacks come from below the ephemeral range, so that no
// outgoing connection can take one before the stack binds it. (Whether a
// returned port is still free when the caller binds it is not asserted:
// other test processes pick from the same range at the same time.)
func TestFreePortIsBelowTheEphemeralRange(t *testing.T) {
	t.Parallel()
	lo, hi := privatePortRange()
	require.Less(t, lo, hi)
	for range 20 {
		p, err := FreePort(t.Context())
		require.NoError(t, err)
		require.GreaterOrEqual(t, p, lo)
		require.Less(t, p, hi)
	}
}

func TestDistinctPortsSkipsRepeats(t *testing.T) {
	t.Parallel()
	seq := []int{20001, 20001, 20002, 20001, 20003}
	free := func(context.Context) (int, error) {
		p := seq[0]
		seq = seq[1:]
		return p, nil
	}
	got, err := distinctPorts(t.Context(), 3, free)
	require.NoError(t, err)
	require.Equal(t, []int{20001, 20002, 20003}, got)
}

func TestDistinctPortsGivesUp(t *testing.T) {
	t.Parallel()
	same := func(context.Context) (int, error) { return 20001, nil }
	_, err := distinctPorts(t.Context(), 2, same)
	require.ErrorContains(t, err, "find 2 different free ports: only 1 after 100 tries")

	broken := errors.New("no ports today")
	_, err = distinctPorts(t.Context(), 2, func(context.Context) (int, error) { return 0, broken })
	require.ErrorIs(t, err, broken)
}
