package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// ListOpts filter and page a job listing.
type ListOpts struct {
	// Kind and Queue filter when set.
	Kind, Queue string
	// Limit is the page size: default 100, at most 10000.
	Limit int
	// AfterID continues a listing after the last ID of the previous page
	// (jobs are listed by ID).
	AfterID int64
}

// ListDiscarded lists jobs that used up their attempts (or were discarded
// by the rescuer), oldest first, for an operator to inspect and Retry.
// Discarded jobs are deleted after Config.DiscardedRetention.
func (c *Client) ListDiscarded(ctx context.Context, opts ListOpts) ([]JobInfo, error) {
	return c.List(ctx, StateDiscarded, opts)
}

// List lists jobs in one state, by ID.
func (c *Client) List(ctx context.Context, state State, opts ListOpts) ([]JobInfo, error) {
	if opts.Limit < 0 || opts.Limit > 10000 {
		return nil, fmt.Errorf("list %s jobs: %w: Limit must be between 0 (default 100) and 10000, got %d", state, ErrInvalid, opts.Limit)
	}
	if opts.AfterID < 0 {
		return nil, fmt.Errorf("list %s jobs: %w: AfterID must not be negative", state, ErrInvalid)
	}
	p := river.NewJobListParams().
		States(rivertype.JobState(state)).
		OrderBy(river.JobListOrderByID, river.SortOrderAsc).
		First(cmpOr(opts.Limit, 100))
	if opts.Kind != "" {
		p = p.Kinds(opts.Kind)
	}
	if opts.Queue != "" {
		p = p.Queues(opts.Queue)
	}
	if opts.AfterID > 0 {
		p = p.Where("id > @after_id", river.NamedArgs{"after_id": opts.AfterID})
	}
	res, err := c.rc.JobList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list %s jobs: %w", state, err)
	}
	out := make([]JobInfo, len(res.Jobs))
	for i, j := range res.Jobs {
		out[i] = jobInfo(j)
	}
	return out, nil
}

// Get returns one job.
func (c *Client) Get(ctx context.Context, id int64) (JobInfo, error) {
	j, err := c.rc.JobGet(ctx, id)
	if err != nil {
		return JobInfo{}, fmt.Errorf("get job %d: %w", id, notFound(err))
	}
	return jobInfo(j), nil
}

// Retry makes a job available to run now: a discarded, cancelled or
// completed job runs again (a discarded one gets one more attempt; its
// earlier errors are kept), a scheduled or retryable one runs early. A
// running job is left alone.
func (c *Client) Retry(ctx context.Context, id int64) (JobInfo, error) {
	j, err := c.rc.JobRetry(ctx, id)
	if err != nil {
		return JobInfo{}, fmt.Errorf("retry job %d: %w", id, notFound(err))
	}
	return jobInfo(j), nil
}

// Cancel cancels a job that has not finished: it will not run (again). A
// running job's context is cancelled if this process runs it; on another
// process the job is cancelled when its attempt ends.
func (c *Client) Cancel(ctx context.Context, id int64) (JobInfo, error) {
	j, err := c.rc.JobCancel(ctx, id)
	if err != nil {
		return JobInfo{}, fmt.Errorf("cancel job %d: %w", id, notFound(err))
	}
	return jobInfo(j), nil
}

func notFound(err error) error {
	if errors.Is(err, rivertype.ErrNotFound) {
		return ErrNotFound
	}
	return err
}
