package apibench

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// A command name with a space and a parenthesis; utime 150, stime 25.
	line := "4242 (my (odd) srv) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 0 0 20 0 8 0 12345 1000000 500 18446744073709551615\n"
	got, err := parseStatCPU(line)
	require.NoError(t, err)
	require.Equal(t, 1750*time.Millisecond, got)

	for _, bad := range []string{"", "4242 (srv) S 1 2", "4242 (srv) S 1 4242 4242 0 -1 4194560 1000 0 0 0 x 25 0"} {
		_, err := parseStatCPU(bad)
		require.ErrorContains(t, err, "parse /proc/<pid>/stat", "%q", bad)
	}
}

func TestProcessCPUOfThisProcess(t *testing.T) {
	t.Parallel()
	before, err := processCPU(os.Getpid())
	require.NoError(t, err)
	// Burn CPU until the kernel's tick-granular counter moves.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		now, err := processCPU(os.Getpid())
		require.NoError(t, err)
		if now > before {
			return
		}
	}
	t.Fatal("CPU time did not grow while the test spun")
}

func TestListenerPIDFindsThisProcess(t *testing.T) {
	t.Parallel()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	pid, err := listenerPID(l.Addr().(*net.TCPAddr).Port)
	require.NoError(t, err)
	require.Equal(t, os.Getpid(), pid)
}

func TestListeningInodeIgnoresOtherPortsAndStates(t *testing.T) {
	t.Parallel()
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 0100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 111 1 0 20 4 30 10 -1
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0 100 0 0 10 0
   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0 100 0 0 10 0
`
	inode, err := listeningInode(table, 8080)
	require.NoError(t, err)
	require.Equal(t, "333", inode, "the LISTEN socket on 127.0.0.1, not an established one or 0.0.0.0")
	_, err = listeningInode(table, 8081)
	require.ErrorContains(t, err, "no socket listens on 127.0.0.1:8081")
}
