package devstack

import (
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
