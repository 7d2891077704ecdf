package jobs

import (
	"context"
	"log/slog"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/store"
)

// SweepExportsArgs asks for the exports whose job can no longer run to be
// failed (store.Exports.FailAbandoned).
type SweepExportsArgs struct{}

// Kind implements queue.Args.
func (SweepExportsArgs) Kind() string { return KindSweepExports }

// abandonedReason is what the user reads on an export the sweep failed.
const abandonedReason = "the export was interrupted too often; create a new export"

type sweeper struct{ d Deps }

func (s sweeper) work(ctx context.Context, _ *queue.Job[SweepExportsArgs]) error {
	n, err := store.NewExports(s.d.DB).FailAbandoned(ctx, KindExport, abandonedReason)
	if err != nil {
		return err
	}
	if n > 0 {
		s.d.Logger.WarnContext(ctx, "failed exports whose job can no longer run", slog.Int64("exports", n))
	}
	return nil
}
