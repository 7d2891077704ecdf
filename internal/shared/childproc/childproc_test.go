package childproc

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStartKeepsOutputAndStopEndsTheGroup(t *testing.T) {
	t.Parallel()
	// The shell's own child (sleep) is in the group too: Stop ends both.
	p, err := Start(exec.Command("sh", "-c", "echo started; sleep 60 & wait"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(p.Logs(), "started") }, 5*time.Second, 10*time.Millisecond)
	begin := time.Now()
	p.Stop(5 * time.Second)
	require.Less(t, time.Since(begin), 4*time.Second, "SIGTERM did not end it; the kill after the grace did")
	select {
	case <-p.Exited():
	default:
		t.Fatal("Stop returned before the child exited")
	}
	require.Error(t, p.Err())
	// The shell's sleep got the signal too (reaped by init a moment later).
	require.Eventually(t, func() bool { return syscall.Kill(-p.Pid(), 0) == syscall.ESRCH }, 5*time.Second, 20*time.Millisecond,
		"a process of the group is left")
}

func TestRingBufferKeepsTheEnd(t *testing.T) {
	t.Parallel()
	r := &ringBuffer{limit: 10}
	for i := range 100 {
		_, _ = r.Write([]byte(strconv.Itoa(i % 10)))
	}
	require.Equal(t, "0123456789", r.String())
}

// helperEnv makes the test binary a parent that starts a child and waits
// to be killed.
const helperEnv = "CHILDPROC_TEST_PARENT"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		p, err := Start(exec.Command("sleep", "60"))
		if err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString(strconv.Itoa(p.Pid()) + "\n")
		select {}
	}
	os.Exit(m.Run())
}

// The point of the package: a child does not outlive its parent, even when
// the parent is killed without a chance to clean up.
func TestChildDiesWithItsParent(t *testing.T) {
	t.Parallel()
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"=1")
	out, err := parent.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, parent.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	child, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(child, 0), "the child runs")

	require.NoError(t, parent.Process.Kill())
	_ = parent.Wait()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat")
		// Gone, or a zombie waiting for init to reap it.
		return err != nil || strings.Contains(string(b), ") Z ")
	}, 5*time.Second, 20*time.Millisecond, "the child outlived its killed parent")
}
