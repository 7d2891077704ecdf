package devstack

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// Ports for private stacks come from below the ephemeral range, so that no
// outgoing connection can take one before the stack binds it.
func TestFreePortIsBelowTheEphemeralRange(t *testing.T) {
	t.Parallel()
	lo, hi := privatePortRange()
	require.Less(t, lo, hi)
	for range 20 {
		p, err := FreePort(t.Context())
		require.NoError(t, err)
		require.GreaterOrEqual(t, p, lo)
		require.Less(t, p, hi)
		l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		require.NoError(t, err, "the port is free")
		require.NoError(t, l.Close())
	}
}
