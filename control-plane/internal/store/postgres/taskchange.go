package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// The changes agents report (heartbeat, complete, fail, release) are
// group-committed (batch.go): one transaction takes the job locks of a whole
// batch in id order, reads every job's state in the same round trip, applies
// the changes in arrival order, and writes them all in a second round trip.
// This is what a busy fleet calls most: three times per task.
const (
	taskWriters  = 2
	taskMaxBatch = 64
)

// taskReq is one change of one task.
type taskReq struct {
	op     string
	taskID string
	now    time.Time
	change store.TaskChange
}

// taskRes is a changed task and its job as they were written.
type taskRes struct {
	job  job.Job
	task job.Task
}

func (s *Store) changeTask(ctx context.Context, op, taskID string, now time.Time, change store.TaskChange) (taskRes, error) {
	res, err := s.taskChanges.do(ctx, taskReq{op: op, taskID: taskID, now: now, change: change})
	if err != nil {
		return taskRes{}, fmt.Errorf("postgres: %s task %s: %w", op, taskID, err)
	}
	return res, nil
}

// changeTasks writes a batch of task changes in one transaction (see
// groupCommit) and answers every call. A change the job rules refuse (a
// stale lease, say) writes nothing and does not disturb the batch.
func (s *Store) changeTasks(batch []*call[taskReq, taskRes]) {
	groupCommit(s, batch, func(ctx context.Context, tx pgx.Tx, batch []*call[taskReq, taskRes]) (func(context.Context), error) {
		out, err := applyTaskChanges(ctx, tx, batch)
		if err != nil {
			return nil, err
		}
		return func(context.Context) {
			for i, c := range batch {
				c.answer(out[i].val, out[i].err)
			}
		}, nil
	})
}

// applyTaskChanges runs a batch inside tx. The returned error is a database
// failure (the transaction is lost); per-call refusals are in the results.
func applyTaskChanges(ctx context.Context, tx pgx.Tx, batch []*call[taskReq, taskRes]) ([]result[taskRes], error) {
	ids := make([]string, len(batch))
	for i, c := range batch {
		ids[i] = c.req.taskID
	}
	// The jobs' locks first, in id order (the store's lock order, so two
	// batches never wait on each other in a cycle); then each job's state.
	b := &pgx.Batch{}
	b.Queue(`SELECT id FROM jobs WHERE id IN (SELECT job_id FROM tasks WHERE id = ANY($1)) ORDER BY id FOR UPDATE`, ids)
	for _, id := range ids {
		queueReadState(b, byTaskID, id, "")
	}
	br := tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, fmt.Errorf("lock jobs: %w", err)
	}
	out := make([]result[taskRes], len(batch))
	states := map[string]*jobState{} // one state per job, shared by its calls
	of := make([]*jobState, len(batch))
	for i, c := range batch {
		st, err := readState(br)
		if err != nil {
			if !isNotFound(err) {
				_ = br.Close()
				return nil, err
			}
			out[i].err = fmt.Errorf("postgres: %s task %s: %w", c.req.op, c.req.taskID, err)
			continue
		}
		if prev, ok := states[st.job.ID]; ok {
			of[i] = prev
		} else {
			states[st.job.ID], of[i] = &st, &st
		}
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("read job states: %w", mapErr(err))
	}

	wb := &pgx.Batch{}
	for i, c := range batch {
		st := of[i]
		if st == nil {
			continue
		}
		t, ok := st.task(c.req.taskID)
		if !ok {
			out[i].err = fmt.Errorf("postgres: %s task %s: %w", c.req.op, c.req.taskID, store.ErrNotFound)
			continue
		}
		nt, changed, err := c.req.change(&st.job, t)
		if err != nil {
			out[i].err = fmt.Errorf("postgres: %s task %s: %w", c.req.op, c.req.taskID, mapErr(err))
			continue
		}
		if changed {
			if err := st.apply(wb, []job.Task{nt}, c.req.now); err != nil {
				return nil, err
			}
		}
		out[i].val = taskRes{job: st.job, task: nt}
	}
	return out, send(ctx, tx, wb)
}
