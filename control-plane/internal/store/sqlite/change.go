package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// stateTx is a write transaction as store's change flows use it. SQLite has
// one writer, so the transaction holds every job's lock: loading a state
// is only reading it.
type stateTx struct{ tx *sql.Tx }

var _ store.StateTx = stateTx{}

// LockJobs reads the states of jobs.
func (s stateTx) LockJobs(ctx context.Context, tenant string, ids []string) ([]*job.State, error) {
	out := make([]*job.State, 0, len(ids))
	for _, id := range ids {
		st, err := s.state(ctx, tenant, id)
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", id, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// LockTaskJobs reads the state of each task's job.
func (s stateTx) LockTaskJobs(ctx context.Context, taskIDs []string) ([]*job.State, error) {
	out := make([]*job.State, len(taskIDs))
	byJob := map[string]*job.State{}
	for i, id := range taskIDs {
		var jobID string
		err := s.tx.QueryRowContext(ctx, `SELECT job_id FROM tasks WHERE id = ?`, id).Scan(&jobID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return nil, fmt.Errorf("read task %s: %w", id, err)
		}
		st, ok := byJob[jobID]
		if !ok {
			if st, err = s.state(ctx, "", jobID); err != nil {
				return nil, fmt.Errorf("job %s: %w", jobID, err)
			}
			byJob[jobID] = st
		}
		out[i] = st
	}
	return out, nil
}

// state reads one job's state: the job, its tasks, its last event, its
// cache key and trace context, and its tenant's webhook endpoints.
func (s stateTx) state(ctx context.Context, tenant, id string) (*job.State, error) {
	j, err := getJob(ctx, s.tx, tenant, id)
	if err != nil {
		return nil, err
	}
	st := &job.State{Job: j}
	if st.Tasks, err = jobTasks(ctx, s.tx, id); err != nil {
		return nil, fmt.Errorf("read tasks: %w", err)
	}
	var (
		ev     job.Event
		status string
	)
	err = s.tx.QueryRowContext(ctx, `SELECT seq, status, stage, progress FROM job_events
		WHERE job_id = ? ORDER BY seq DESC LIMIT 1`, id).Scan(&ev.Seq, &status, &ev.Stage, &ev.Progress)
	switch {
	case err == nil:
		ev.JobID, ev.Status = id, api.JobStatus(status)
		st.Last = &ev
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("read last event: %w", err)
	}
	m, err := jobMeta(ctx, s.tx, id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read job meta: %w", err)
	}
	st.CacheKey, st.Traceparent = m.CacheKey, m.Traceparent
	endpoints, err := listEndpoints(ctx, s.tx, j.Tenant)
	if err != nil {
		return nil, err
	}
	st.Endpoints = store.Targets(endpoints)
	return st, nil
}

// Write writes changes in order.
func (s stateTx) Write(ctx context.Context, changes []job.Change) error {
	for _, ch := range changes {
		// Removed first: a replan drops the chunks' tasks and requeues
		// prepare; Added last, after the job's other tasks.
		for _, id := range ch.Removed {
			if _, err := s.tx.ExecContext(ctx, `DELETE FROM tasks WHERE job_id = ? AND id = ?`, ch.Job.ID, id); err != nil {
				return fmt.Errorf("delete task %s: %w", id, err)
			}
		}
		for _, t := range ch.Tasks {
			if err := saveTask(ctx, s.tx, t); err != nil {
				return err
			}
		}
		for _, t := range ch.Added {
			if err := insertTask(ctx, s.tx, t, -1); err != nil {
				return err
			}
		}
		if err := saveJob(ctx, s.tx, ch.Job); err != nil {
			return err
		}
		if err := writeEvent(ctx, s.tx, ch); err != nil {
			return err
		}
	}
	return writeRollup(ctx, s.tx, changes)
}

// writeEvent writes what a change of a job causes: its event, the event's
// webhook deliveries and the job's cache entry.
func writeEvent(ctx context.Context, tx *sql.Tx, ch job.Change) error {
	ev := ch.Event
	if ev == nil {
		return nil
	}
	snap := ev.Job.ToAPI()
	data, err := store.EventArg(&snap)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO job_events (job_id, seq, status, stage, progress, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, ev.JobID, ev.Seq, string(ev.Status), ev.Stage, ev.Progress,
		data, ts(ev.At)); err != nil {
		return fmt.Errorf("insert event of job %s: %w", ev.JobID, err)
	}
	for _, d := range ch.Deliveries {
		at := ts(d.At)
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, tenant, endpoint_id, event_id, event_type,
			job_id, url, payload, status, attempts, next_attempt_at, window_start, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`, d.ID, d.Tenant, d.EndpointID, d.EventID, d.EventType,
			d.JobID, d.URL, d.Payload, api.DeliveryPending, at, at, at, at); err != nil {
			return fmt.Errorf("insert webhook delivery: %w", err)
		}
	}
	if ch.CacheKey != "" {
		j := ch.Job
		res, err := store.CachedResultArg(j)
		if err != nil {
			return fmt.Errorf("encode cached result: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO result_cache (tenant, cache_key, job_id, result_key, result, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, cache_key) DO UPDATE SET job_id = excluded.job_id,
			result_key = excluded.result_key, result = excluded.result, created_at = excluded.created_at`,
			j.Tenant, ch.CacheKey, j.ID, j.ResultKey, res, ts(ev.At)); err != nil {
			return fmt.Errorf("write cache entry: %w", err)
		}
	}
	return nil
}
