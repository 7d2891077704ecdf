package kube

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

// WaitTimeout bounds each wait of a stage by default.
const WaitTimeout = 10 * time.Minute

// ApplyStages applies each stage and waits for its objects before the
// next: the migration Jobs complete before any Deployment changes. Each
// wait is bounded by timeout (0: WaitTimeout).
func ApplyStages(ctx context.Context, kube Kube, stages []manifests.Stage, timeout time.Duration, out io.Writer) error {
	if timeout == 0 {
		timeout = WaitTimeout
	}
	for _, st := range stages {
		y, err := manifests.YAML(st.Objects)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "==> %s: applying %d objects\n", st.Name, len(st.Objects))
		if err := kube.Apply(ctx, y); err != nil {
			return fmt.Errorf("applying stage %s: %w", st.Name, err)
		}
		for _, w := range st.Waits {
			fmt.Fprintf(out, "    waiting for %s %s/%s (%s)\n", w.Kind, w.Namespace, w.Name, w.For)
			if err := kube.Wait(ctx, w, timeout); err != nil {
				return fmt.Errorf("stage %s: waiting for %s %s/%s (%s): %w", st.Name, w.Kind, w.Namespace, w.Name, w.For, err)
			}
		}
	}
	return nil
}

// DiffStages prints what applying each stage would change and changes
// nothing.
func DiffStages(ctx context.Context, kube Kube, stages []manifests.Stage, out io.Writer) error {
	changed := false
	for _, st := range stages {
		y, err := manifests.YAML(st.Objects)
		if err != nil {
			return err
		}
		d, err := kube.Diff(ctx, y)
		if err != nil {
			return fmt.Errorf("diffing stage %s: %w", st.Name, err)
		}
		if d == "" {
			fmt.Fprintf(out, "==> %s: no changes\n", st.Name)
			continue
		}
		changed = true
		fmt.Fprintf(out, "==> %s: would change\n%s\n", st.Name, d)
	}
	if !changed {
		fmt.Fprintln(out, "dry run: nothing would change")
	} else {
		fmt.Fprintln(out, "dry run: nothing was applied")
	}
	return nil
}
