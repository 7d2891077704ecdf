// Package faultjob is the job kind of the no-job-lost fault test: each job
// records its effect in the same transaction that completes it, so a
// process killed at any point either left both or neither.
package faultjob

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/queue"
)

// Schema creates the tables the handler writes; the schema owner runs it.
const Schema = `
CREATE TABLE fault_effect (key int PRIMARY KEY, applied int NOT NULL);
CREATE TABLE fault_attempt (key int NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT now());
GRANT SELECT, INSERT, UPDATE ON fault_effect, fault_attempt TO server;`

// Args identify one job's effect.
type Args struct {
	Key int `json:"key"`
}

// Kind implements queue.Args.
func (Args) Kind() string { return "fault_effect" }

// Register adds the kind to reg. Each attempt is logged in fault_attempt
// on its own (it survives a kill), then the effect is applied and the job
// completed in one transaction that stays open for a few milliseconds, so
// that kills land inside it. The effect counts its applications instead of
// ignoring repeats (ON CONFLICT DO UPDATE, not DO NOTHING): a count above
// one would expose a job whose effect committed twice.
func Register(reg *queue.Registry, pool *pgxpool.Pool) error {
	pid := os.Getpid()
	return queue.Register(reg, func(ctx context.Context, j *queue.Job[Args]) error {
		if _, err := pool.Exec(ctx, "INSERT INTO fault_attempt (key, pid) VALUES ($1, $2)", j.Args.Key, pid); err != nil {
			return fmt.Errorf("log attempt: %w", err)
		}
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `
				INSERT INTO fault_effect (key, applied) VALUES ($1, 1)
				ON CONFLICT (key) DO UPDATE SET applied = fault_effect.applied + 1`, j.Args.Key); err != nil {
				return fmt.Errorf("apply effect %d: %w", j.Args.Key, err)
			}
			time.Sleep(time.Duration(5+rand.IntN(20)) * time.Millisecond) //nolint:gosec // test timing only
			return queue.CompleteTx(ctx, tx, j)
		})
	}, queue.KindOptions{})
}
