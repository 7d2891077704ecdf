package apibench

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	// A command name with a space and a parenthesis; ppid 1, utime 150,
	// stime 25, cutime 7, cstime 3.
	line := "4242 (my (odd) srv) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 7 3 20 0 8 0 12345 1000000 500 18446744073709551615\n"
	got, err := parseStat(line)
	require.NoError(t, err)
	require.Equal(t, procStat{ppid: 1, own: 1750 * time.Millisecond, children: 100 * time.Millisecond}, got)

	for _, bad := range []string{"", "4242 (srv) S 1 2", "4242 (srv) S 1 4242 4242 0 -1 4194560 1000 0 0 0 x 25 0 0"} {
		_, err := parseStat(bad)
		require.ErrorContains(t, err, "parse /proc/<pid>/stat", "%q", bad)
	}
}

func TestParseMachineBusyLeavesOutIdleIOWaitAndSteal(t *testing.T) {
	t.Parallel()
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseMachineBusy("cpu  100 2 30 5000 40 1 6 70 99 99\ncpu0 50 1 15 2500 20 0 3 0 0 0\n")
	require.NoError(t, err)
	require.Equal(t, 139*clockTick, got, "no steal; guest time is inside user already")

	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6", "cpu 1 2 x 4 5 6"} {
		_, err := parseMachineBusy(bad)
		require.ErrorContains(t, err, "parse /proc/stat", "%q", bad)
	}
}

func TestMachineBusyGrows(t *testing.T) {
	t.Parallel()
	requireGrowsWhileSpinning(t, "the machine's busy time", machineBusy)
}

// requireGrowsWhileSpinning burns CPU until the tick-granular counter read
// by read moves, and fails if it does not within 10 s.
func requireGrowsWhileSpinning(t *testing.T, what string, read func() (time.Duration, error)) {
	t.Helper()
	before, err := read()
	require.NoError(t, err)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		now, err := read()
		require.NoError(t, err)
		if now > before {
			return
		}
	}
	t.Fatalf("%s did not grow while the test spun", what)
}

func TestClusterCPUCountsLiveAndExitedChildren(t *testing.T) {
	t.Parallel()
	// This test's process stands in for the postmaster: a child that burns
	// CPU is counted while it runs and, once waited for, through cutime.
	pid := os.Getpid()
	before, err := clusterCPU(pid)
	require.NoError(t, err)
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	require.NoError(t, cmd.Start())
	require.NoError(t, cmd.Wait())
	after, err := clusterCPU(pid)
	require.NoError(t, err)
	own, err := processCPU(pid)
	require.NoError(t, err)
	require.Greater(t, after-before, time.Duration(0))
	require.Greater(t, after, own, "the waited-for child's time is in the total")

	_, err = clusterCPU(1 << 30)
	require.ErrorContains(t, err, "PostgreSQL's postmaster")
}

func TestPostmasterPID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := postmasterPID(dir)
	require.ErrorContains(t, err, "find PostgreSQL's postmaster")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte("4242\n/var/lib/pg\n1700000000\n5432\n"), 0o600))
	pid, err := postmasterPID(dir)
	require.NoError(t, err)
	require.Equal(t, 4242, pid)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte("garbage\n"), 0o600))
	_, err = postmasterPID(dir)
	require.ErrorContains(t, err, "postmaster.pid")
}

func TestProcessCPUOfThisProcess(t *testing.T) {
	t.Parallel()
	requireGrowsWhileSpinning(t, "this process's CPU time", func() (time.Duration, error) { return processCPU(os.Getpid()) })
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
