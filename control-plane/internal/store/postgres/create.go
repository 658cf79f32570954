package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// Job creation is group-committed (batch.go): one transaction for all the
// jobs submitted at a moment, sent in one round trip when they are all
// queued jobs (createAtOnce), else in two (BEGIN with the jobs; their
// tasks, first events, webhook deliveries and metadata with the COMMIT). One
// writer: concurrent creation transactions insert into the same index pages
// and statistics rows and wait on each other (PostgreSQL spent three times
// as long per row with four writers as with one, docs/performance.md), and
// one writer makes larger batches.
const (
	createWriters  = 1
	createMaxBatch = 128 // jobs in one transaction
)

type createReq struct {
	st   job.State // of the new job (job.New)
	meta store.JobMeta
	// The job's columns and the job as it reads back from them (jobRow),
	// and the rest it writes unless that needs its tenant's webhook
	// endpoints (nil then): made by the caller rather than by the writer.
	row      []any
	stored   job.Job
	creation *creation
}

// creation is what a new job writes besides its own row.
type creation struct {
	ch      job.Change
	tasks   rows // insertTasksSQL's
	effects effects
}

// newCreation derives st's creation (job.State.Create) and encodes it.
func newCreation(st job.State) (*creation, error) {
	ch, err := st.Create()
	if err != nil {
		return nil, err
	}
	c := &creation{ch: ch}
	for k, t := range ch.Added {
		a, err := taskArgs(t)
		if err != nil {
			return nil, err
		}
		c.tasks.add(append(a, k)...)
	}
	if err := c.effects.add(ch); err != nil {
		return nil, err
	}
	return c, nil
}

type created struct {
	job     job.Job
	created bool
}

// CreateJob inserts a job, its tasks and its metadata atomically; see
// store.Store. The job is written with the other jobs submitted at the same
// moment, in one transaction.
func (s *Store) CreateJob(ctx context.Context, j job.Job, tasks []job.Task, meta store.JobMeta) (job.Job, bool, error) {
	if j.ID == "" || j.CreatedAt.IsZero() {
		return job.Job{}, false, fmt.Errorf("postgres: create job: id and created_at are required")
	}
	meta.JobID, meta.Tenant = j.ID, j.Tenant
	req, err := newCreateReq(job.New(j, tasks), meta)
	if err != nil {
		return job.Job{}, false, fmt.Errorf("postgres: create job %s: %w", j.ID, err)
	}
	res, err := s.creates.do(ctx, req)
	if err != nil {
		return job.Job{}, false, fmt.Errorf("postgres: create job %s: %w", j.ID, err)
	}
	return res.job, res.created, nil
}

// createBatch writes a batch in one transaction (see groupCommit) and
// answers every call in it; a job whose idempotency key was already taken
// is answered after the commit, from the job that has it.
func (s *Store) createBatch(batch []*call[createReq, created]) {
	if s.createAtOnce(batch) {
		return
	}
	groupCommit(s, batch, func(ctx context.Context, tx *pipeTx, batch []*call[createReq, created]) (func(context.Context), error) {
		out, inserted, err := insertJobs(ctx, tx, batch)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) {
			for i, c := range batch {
				if inserted[i] {
					c.answer(created{out[i], true}, nil)
					continue
				}
				prev, err := s.idempotentReplay(ctx, c.req.st.Job)
				c.answer(created{prev, false}, err)
			}
		}, nil
	})
}

// createAtOnce writes a batch whose creations were all derived by their
// callers (queued jobs: none needs its tenant's webhook endpoints) in one
// round trip, BEGIN to COMMIT, instead of groupCommit's two: the writer
// does not wait for the jobs' insert to learn which keys were taken, and
// PostgreSQL does not wait for the writer between the two. Its insert of the
// jobs has no ON CONFLICT, so a key already taken fails the transaction.
// It reports whether it committed and answered the batch; when it did not
// (a replayed key, or any other failure), nothing was written and the
// batch is written by groupCommit, which tells replays apart and isolates
// a failing job. A replay costs its batch one rolled-back transaction.
func (s *Store) createAtOnce(batch []*call[createReq, created]) bool {
	creations := make([]*creation, len(batch))
	var jobs rows
	for i, c := range batch {
		if creations[i] = c.req.creation; creations[i] == nil {
			return false
		}
		jobs.add(c.req.row...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		tx.later(genericPlans)
		b := &pgx.Batch{}
		jobs.queue(b, insertNewJobsSQL)
		queueCreations(b, tx, batch, creations)
		tx.sendLater(b)
		return nil
	})
	if err != nil {
		s.log.Debug("postgres: creation batch not written at once; writing it in two round trips", "jobs", len(batch), "err", err)
		return false
	}
	for _, c := range batch {
		c.answer(created{c.req.stored, true}, nil)
	}
	return true
}

// idempotentReplay answers a creation whose idempotency key its tenant has
// already used: with that job if the requests match.
func (s *Store) idempotentReplay(ctx context.Context, j job.Job) (job.Job, error) {
	prev, err := scanJob(s.pool.QueryRow(ctx, `SELECT `+jobCols+` FROM jobs
		WHERE tenant = $1 AND idempotency_key = $2`, j.Tenant, j.IdempotencyKey))
	if err != nil {
		return job.Job{}, fmt.Errorf("read job with the same idempotency key: %w", mapErr(err))
	}
	if prev.RequestHash != j.RequestHash {
		return job.Job{}, fmt.Errorf("key %q is job %s: %w", j.IdempotencyKey, prev.ID, store.ErrIdempotencyMismatch)
	}
	return prev, nil
}

var (
	// insertNewJobsSQL inserts jobs (jobRow) that must all be new: a taken
	// idempotency key fails it (createAtOnce).
	insertNewJobsSQL = `INSERT INTO jobs (` + jobCols + `) SELECT * FROM ` +
		unnest(jobCols, "text", "text", "text", "text", "float8", "jsonb", "text", "text", "int", "jsonb", "jsonb",
			"text", "timestamptz", "timestamptz", "timestamptz", "int", "int")
	// insertJobsSQL inserts jobs and returns the ids of those whose tenant
	// had not used their idempotency key (ON CONFLICT waits for a
	// transaction still writing that key).
	insertJobsSQL = insertNewJobsSQL +
		` ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key <> '' DO NOTHING RETURNING id`
)

// newCreateReq is the creation writer's request for the new job of st.
func newCreateReq(st job.State, meta store.JobMeta) (createReq, error) {
	row, stored, err := jobRow(st.Job)
	if err != nil {
		return createReq{}, err
	}
	req := createReq{st: st, meta: meta, row: row, stored: stored}
	// A creation that depends on the tenant's webhook endpoints is derived
	// by the writer, whose transaction reads them; any other, here.
	if !st.CreateNeedsEndpoints() {
		if req.creation, err = newCreation(st); err != nil {
			return createReq{}, err
		}
	}
	return req, nil
}

// jobRow encodes j's columns for insertJobsSQL and returns j as it will read
// back from them (its JSON columns decoded from what is written, its times
// to the microsecond in UTC), so that the one creation writer neither
// encodes a job nor reads it back: the callers do, side by side.
func jobRow(j job.Job) ([]any, job.Job, error) {
	spec, err := store.SpecArg(&j.Spec)
	if err != nil {
		return nil, j, fmt.Errorf("spec: %w", err)
	}
	errJ, err := store.ErrorArg(j.Error)
	if err != nil {
		return nil, j, fmt.Errorf("error: %w", err)
	}
	resJ, err := store.JobResultArg(j.Result)
	if err != nil {
		return nil, j, fmt.Errorf("result: %w", err)
	}
	row := []any{j.ID, j.Tenant, string(j.Status), j.Stage, j.Progress, spec, j.IdempotencyKey, j.RequestHash,
		j.Attempts, errJ, resJ, j.ResultKey, j.CreatedAt, j.UpdatedAt, timePtrArg(j.FinishedAt),
		j.ChunksTotal, j.ChunksDone}
	back := j
	back.Spec, back.Error, back.Result = job.Spec{}, nil, nil
	if err := store.DecodeSpec(jsonBytes(spec), &back.Spec); err != nil {
		return nil, j, fmt.Errorf("spec: %w", err)
	}
	if err := store.DecodeError(jsonBytes(errJ), &back.Error); err != nil {
		return nil, j, fmt.Errorf("error: %w", err)
	}
	if err := store.DecodeJobResult(jsonBytes(resJ), &back.Result); err != nil {
		return nil, j, fmt.Errorf("result: %w", err)
	}
	back.CreatedAt, back.UpdatedAt = storedTime(j.CreatedAt), storedTime(j.UpdatedAt)
	if j.FinishedAt != nil {
		f := storedTime(*j.FinishedAt)
		back.FinishedAt = &f
	}
	return row, back, nil
}

// storedTime is t as a timestamptz column gives it back.
func storedTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// jsonBytes is a JSON column's argument as bytes (nil for NULL).
func jsonBytes(arg any) []byte {
	if s, ok := arg.(string); ok {
		return []byte(s)
	}
	return nil
}

// insertJobs writes the batch's jobs in one statement and reports, for each,
// the job as stored and whether it was inserted (false: its tenant already
// used its idempotency key). The rest of the batch's writes are queued to
// go with the commit.
func insertJobs(ctx context.Context, tx *pipeTx, batch []*call[createReq, created]) ([]job.Job, []bool, error) {
	b := &pgx.Batch{}
	var jobs rows
	tenants := map[string]int{} // tenant -> index of its endpoint query
	var tenantOrder []string
	for _, c := range batch {
		jobs.add(c.req.row...)
		t := c.req.st.Job.Tenant
		if _, ok := tenants[t]; !ok {
			tenants[t] = len(tenantOrder)
			tenantOrder = append(tenantOrder, t)
		}
	}
	jobs.queue(b, insertJobsSQL)
	for _, t := range tenantOrder {
		b.Queue(listEndpointsSQL, t)
	}
	br := tx.SendBatch(ctx, b)
	ids, err := br.Query()
	var got []string
	if err == nil {
		got, err = pgx.CollectRows(ids, pgx.RowTo[string])
	}
	if err != nil {
		_ = br.Close()
		return nil, nil, fmt.Errorf("insert jobs: %w", mapErr(err))
	}
	endpoints := make([][]store.WebhookEndpoint, len(tenantOrder))
	for i := range tenantOrder {
		rows, err := br.Query()
		if err == nil {
			endpoints[i], err = collectEndpoints(rows)
		}
		if err != nil {
			_ = br.Close()
			return nil, nil, fmt.Errorf("list webhook endpoints: %w", err)
		}
	}
	if err := br.Close(); err != nil {
		return nil, nil, fmt.Errorf("insert jobs: %w", mapErr(err))
	}
	ins := make(map[string]bool, len(got))
	for _, id := range got {
		ins[id] = true
	}
	out := make([]job.Job, len(batch))
	inserted := make([]bool, len(batch))
	for i, c := range batch {
		if ins[c.req.st.Job.ID] {
			out[i], inserted[i] = c.req.stored, true
		}
	}

	creations := make([]*creation, len(batch))
	for i, c := range batch {
		if !inserted[i] {
			continue
		}
		if creations[i] = c.req.creation; creations[i] == nil {
			st := c.req.st
			st.Endpoints = store.Targets(endpoints[tenants[st.Job.Tenant]])
			var err error
			if creations[i], err = newCreation(st); err != nil {
				return nil, nil, err
			}
		}
	}
	b = &pgx.Batch{}
	queueCreations(b, tx, batch, creations)
	tx.sendLater(b) // with the commit: nothing here needs their answers
	return out, inserted, nil
}

// queueCreations queues what the batch's new jobs write besides their rows:
// their tasks, first events and the deliveries those cause, metadata, and
// the statistics rollup. creations[i] is batch[i]'s, nil for a job not
// inserted. A new job has no earlier event, so its first one needs no read.
func queueCreations(b *pgx.Batch, tx *pipeTx, batch []*call[createReq, created], creations []*creation) {
	var (
		tasks, meta rows
		effects     effects
		changes     []job.Change
	)
	for i, cr := range creations {
		if cr == nil {
			continue
		}
		tasks.append(cr.tasks)
		effects.merge(&cr.effects)
		changes = append(changes, cr.ch)
		if m := batch[i].req.meta; m.CacheKey != "" || m.Traceparent != "" {
			meta.add(m.JobID, m.Tenant, m.CacheKey, m.Traceparent)
		}
	}
	tasks.queue(b, insertTasksSQL)
	effects.queue(b)
	meta.queue(b, insertMetaSQL)
	queueRollup(b, changes, connShard(tx))
}
