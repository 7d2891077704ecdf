//go:build linux

package queue_test

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/queue/internal/faultjob"
)

// No job is lost and no effect is applied twice when the worker process is
// killed (SIGKILL) at random moments and restarted: every job ends
// completed, and every effect was committed exactly once. Jobs the killed
// processes left running are rescued by the next leader after
// RescueStuckJobsAfter (2s here); electing that leader waits for the
// killed leader's lease to expire (River's 15s), which is most of this
// test's time.
func TestNoJobLostWhenWorkerKilled(t *testing.T) {
	t.Parallel()
	const (
		jobs  = 500
		kills = 3
	)
	bin := buildFaultWorker(t)
	db := pgtest.New(t)
	ownerSQL(t, db, faultjob.Schema)
	ctx := context.Background()

	reg := queue.NewRegistry()
	require.NoError(t, faultjob.Register(reg, db.Pool))
	c, err := queue.New(queue.Config{Pool: db.Pool, Registry: reg})
	require.NoError(t, err)
	items := make([]queue.Item, jobs)
	for i := range items {
		items[i] = queue.Item{Args: faultjob.Args{Key: i}}
	}
	_, err = c.EnqueueMany(ctx, items)
	require.NoError(t, err)

	count := func(sql string) int {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, sql).Scan(&n))
		return n
	}
	for i := range kills {
		w := startFaultWorker(t, bin, db.URL)
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond) //nolint:gosec // test timing
		require.NoError(t, w.cmd.Process.Signal(syscall.SIGKILL))
		_ = w.cmd.Wait()
		t.Logf("kill %d: %d effects, %d jobs left running", i+1, count("SELECT count(*) FROM fault_effect"), count("SELECT count(*) FROM river_job WHERE state = 'running'"))
	}
	require.Positive(t, count("SELECT count(*) FROM river_job WHERE state = 'running'"), "no kill landed mid-job: the test proved nothing")

	w := startFaultWorker(t, bin, db.URL)
	begin := time.Now()
	require.Eventually(t, func() bool {
		return count("SELECT count(*) FROM river_job WHERE state = 'completed'") == jobs
	}, 45*time.Second, 100*time.Millisecond, "jobs not completed: %d", jobs-count("SELECT count(*) FROM river_job WHERE state = 'completed'"))
	t.Logf("recovered in %v", time.Since(begin))
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, w.cmd.Wait(), "graceful stop on SIGTERM; stderr:\n%s", w.stderr)

	require.Equal(t, jobs, count("SELECT count(*) FROM river_job WHERE state = 'completed'"))
	require.Equal(t, jobs, count("SELECT count(*) FROM fault_effect"), "every effect happened")
	require.Zero(t, count("SELECT count(*) FROM fault_effect WHERE applied <> 1"), "no effect happened twice")
	rescued := count("SELECT count(*) FROM river_job WHERE metadata ? 'river:rescue_count'")
	attempts := count("SELECT count(*) FROM fault_attempt")
	t.Logf("%d jobs, %d attempts, %d rescued after kills", jobs, attempts, rescued)
	require.Positive(t, rescued)
	require.GreaterOrEqual(t, attempts, jobs, "each job logged at least its final attempt")
	require.NotContains(t, w.stderr.String(), "level=ERROR")
}

type faultWorker struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
}

// startFaultWorker starts the worker and waits until it works.
func startFaultWorker(t *testing.T, bin, url string) *faultWorker {
	t.Helper()
	cmd := exec.Command(bin, "-database-url", url) //nolint:noctx // killed by the test, or by the kernel with the test
	// If the test process dies, so does the worker.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	w := &faultWorker{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = w.stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "worker did not start; stderr:\n%s", w.stderr)
	require.Equal(t, "ready\n", line)
	return w
}

// buildFaultWorker compiles queue/internal/faultworker with the go command
// on PATH (the one running the tests).
func buildFaultWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "faultworker")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the fault test builds its worker with the go command")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./internal/faultworker")
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build faultworker: %s", out)
	return bin
}
