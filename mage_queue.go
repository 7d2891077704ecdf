//go:build mage

package main

import (
	"context"
	"os"

	"github.com/groundwork-dev/groundwork/queue/queuebench"
)

// Queue runs the same job workloads through pgqueue and through River directly on a private PostgreSQL, and prints jobs/s, latency and the ratios.
func (Bench) Queue(ctx context.Context) error {
	return queuebench.Run(ctx, os.Stdout)
}
