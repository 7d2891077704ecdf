package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/queue"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) // a Wednesday
	for _, tc := range []struct {
		expr string
		next time.Time
	}{
		{"*/15 * * * *", time.Date(2030, 1, 2, 3, 15, 0, 0, time.UTC)},
		{"0 3 * * MON-FRI", time.Date(2030, 1, 3, 3, 0, 0, 0, time.UTC)},
		{"@hourly", time.Date(2030, 1, 2, 4, 0, 0, 0, time.UTC)},
		{"@daily", time.Date(2030, 1, 3, 0, 0, 0, 0, time.UTC)},
		{"@every 30s", at.Add(30 * time.Second)},
		{"CRON_TZ=Europe/Paris 0 9 * * *", time.Date(2030, 1, 2, 8, 0, 0, 0, time.UTC)},
	} {
		s, err := queue.ParseSchedule(tc.expr)
		require.NoError(t, err, tc.expr)
		require.True(t, tc.next.Equal(s.Next(at)), "%s: next %v, want %v", tc.expr, s.Next(at), tc.next)
	}
	// Plain expressions mean UTC whatever the caller's zone.
	s, err := queue.ParseSchedule("0 12 * * *")
	require.NoError(t, err)
	tokyo := time.FixedZone("JST", 9*3600)
	require.True(t, time.Date(2030, 1, 2, 12, 0, 0, 0, time.UTC).Equal(s.Next(at.In(tokyo))))

	for expr, msg := range map[string]string{
		"":                                   "empty spec string",
		"* * * *":                            "expected exactly 5 fields",
		"61 * * * *":                         "end of range (61) above maximum (59)",
		"* * * * * *":                        "expected exactly 5 fields",
		"@every 10ms":                        "@every needs whole seconds, at least 1s",
		"@every 1500ms":                      "@every needs whole seconds",
		"@every -1m":                         "",
		"@fortnightly":                       "unrecognized descriptor",
		"CRON_TZ=Nowhere/Atlantis 0 * * * *": "provided bad location",
	} {
		_, err := queue.ParseSchedule(expr)
		require.Error(t, err, "%q", expr)
		require.ErrorContains(t, err, "cron schedule")
		require.ErrorContains(t, err, msg, "%q", expr)
	}
}

// Two worker processes with the same periodic job: only the leader
// enqueues it, so each tick produces one job.
func TestPeriodicRunsOnceAcrossClients(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	periodic := []queue.PeriodicJob{{Name: "every-second", Schedule: "@every 1s", Args: noteArgs{Key: "tick"}}}
	var clients []*queue.Client
	for i := range 2 {
		c := b.client(t, func(cfg *queue.Config) {
			cfg.Clock = nil // the periodic scheduler runs on timers
			cfg.ID = []string{"worker-a", "worker-b"}[i]
			cfg.Queues = map[string]queue.QueueConfig{queue.QueueDefault: {MaxWorkers: 2}}
			cfg.Periodic = periodic
			cfg.StartMaintenanceAtOnce = true
		})
		require.NoError(t, c.Start(ctx))
		clients = append(clients, c)
	}
	begin := time.Now()
	t.Cleanup(func() {
		for _, c := range clients {
			require.NoError(t, c.Stop(context.Background()))
		}
	})
	time.Sleep(3500 * time.Millisecond)

	var leader string
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT leader_id FROM river_leader").Scan(&leader))
	require.Contains(t, []string{"worker-a", "worker-b"}, leader)

	rows, err := b.pool.Query(ctx, "SELECT created_at FROM river_job WHERE kind = 'note' ORDER BY created_at")
	require.NoError(t, err)
	var created []time.Time
	for rows.Next() {
		var c time.Time
		require.NoError(t, rows.Scan(&c))
		created = append(created, c)
	}
	require.NoError(t, rows.Err())
	elapsed := time.Since(begin)
	// At most one job per whole second that began in the window (ticks
	// fall on the second, so the first may come right after the start);
	// two enqueuers would make about twice as many, and the spacing check
	// below catches even one duplicate tick.
	require.GreaterOrEqual(t, len(created), 2, "ticks in %v: %v", elapsed, created)
	require.LessOrEqual(t, len(created), int(elapsed/time.Second)+1, "ticks in %v: %v", elapsed, created)
	for i := 1; i < len(created); i++ {
		require.Greater(t, created[i].Sub(created[i-1]), 800*time.Millisecond, "two jobs for one tick: %v", created)
	}
}
