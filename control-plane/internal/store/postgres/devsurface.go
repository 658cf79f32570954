package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

const listEndpointsSQL = `SELECT id, tenant, url, events, created_at FROM webhook_endpoints
		WHERE ($1::text = '' OR tenant = $1::text) ORDER BY tenant, created_at, id`

func listEndpoints(ctx context.Context, q querier, tenant string) ([]store.WebhookEndpoint, error) {
	rows, err := q.Query(ctx, listEndpointsSQL, tenant)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return collectEndpoints(rows)
}

func collectEndpoints(rows pgx.Rows) ([]store.WebhookEndpoint, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.WebhookEndpoint, error) {
		var (
			e      store.WebhookEndpoint
			events []byte
		)
		if err := r.Scan(&e.ID, &e.Tenant, &e.URL, &events, &e.CreatedAt); err != nil {
			return e, err
		}
		return e, store.DecodeJSON(events, &e.Events)
	})
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return out, nil
}

// JobEvents returns a job's events after seq.
func (s *Store) JobEvents(ctx context.Context, jobID string, after int64, limit int) ([]store.JobEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT job_id, seq, status, stage, progress, data, created_at FROM job_events
		WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, jobID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: events of job %s: %w", jobID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.JobEvent, error) {
		var (
			e      store.JobEvent
			status string
			data   []byte
		)
		if err := r.Scan(&e.JobID, &e.Seq, &status, &e.Stage, &e.Progress, &data, &e.At); err != nil {
			return e, err
		}
		e.Status = api.JobStatus(status)
		return e, store.DecodeEvent(data, &e.Job)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: events of job %s: %w", jobID, err)
	}
	return out, nil
}

// GetJobMeta returns a job's metadata.
func (s *Store) GetJobMeta(ctx context.Context, jobID string) (store.JobMeta, error) {
	var m store.JobMeta
	err := s.pool.QueryRow(ctx, `SELECT job_id, tenant, cache_key, traceparent FROM job_meta WHERE job_id = $1`, jobID).
		Scan(&m.JobID, &m.Tenant, &m.CacheKey, &m.Traceparent)
	if err != nil {
		return m, fmt.Errorf("postgres: meta of job %s: %w", jobID, mapErr(err))
	}
	return m, nil
}

// LookupCache returns a cached result.
func (s *Store) LookupCache(ctx context.Context, tenant, key string) (store.CacheEntry, error) {
	var (
		e   store.CacheEntry
		res []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT tenant, cache_key, job_id, result_key, result, created_at FROM result_cache
		WHERE tenant = $1 AND cache_key = $2`, tenant, key).Scan(&e.Tenant, &e.Key, &e.JobID, &e.ResultKey, &res, &e.CreatedAt)
	if err != nil {
		return e, fmt.Errorf("postgres: cache lookup: %w", mapErr(err))
	}
	if err := store.DecodeCachedResult(res, &e.Result); err != nil {
		return e, fmt.Errorf("postgres: cache lookup: %w", err)
	}
	return e, nil
}

// DeleteCache drops a cache entry.
func (s *Store) DeleteCache(ctx context.Context, tenant, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM result_cache WHERE tenant = $1 AND cache_key = $2`, tenant, key); err != nil {
		return fmt.Errorf("postgres: delete cache entry: %w", err)
	}
	return nil
}

// CreateWebhookEndpoint stores an endpoint.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) error {
	events, err := json.Marshal(append([]string{}, e.Events...))
	if err != nil {
		return fmt.Errorf("postgres: create webhook endpoint: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO webhook_endpoints (id, tenant, url, events, created_at) VALUES ($1, $2, $3, $4, $5)`,
		e.ID, e.Tenant, e.URL, string(events), e.CreatedAt); err != nil {
		return fmt.Errorf("postgres: create webhook endpoint: %w", mapErr(err))
	}
	return nil
}

// ListWebhookEndpoints lists a tenant's endpoints ("" for all).
func (s *Store) ListWebhookEndpoints(ctx context.Context, tenant string) ([]store.WebhookEndpoint, error) {
	out, err := listEndpoints(ctx, s.pool, tenant)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return out, nil
}

// DeleteWebhookEndpoint removes an endpoint.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, tenant, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND ($2::text = '' OR tenant = $2::text)`, id, tenant)
	if err != nil {
		return fmt.Errorf("postgres: delete webhook endpoint %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete webhook endpoint %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func secrets(ctx context.Context, q querier, tenant string) ([]store.WebhookSecret, error) {
	rows, err := q.Query(ctx, `SELECT tenant, secret, created_at FROM webhook_secrets WHERE tenant = $1
		ORDER BY created_at DESC, secret`, tenant)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.WebhookSecret, error) {
		var w store.WebhookSecret
		return w, r.Scan(&w.Tenant, &w.Secret, &w.CreatedAt)
	})
}

// WebhookSecrets returns a tenant's secrets, creating the first one.
func (s *Store) WebhookSecrets(ctx context.Context, tenant, candidate string, now time.Time) ([]store.WebhookSecret, error) {
	if out, err := secrets(ctx, s.pool, tenant); err != nil || len(out) > 0 {
		if err != nil {
			return nil, fmt.Errorf("postgres: webhook secrets: %w", err)
		}
		return out, nil
	}
	var out []store.WebhookSecret
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		// Serialize first-use creation per tenant so two replicas cannot
		// each store a different first secret.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ytcaption.webhook-secret.' || $1::text, 0))`, tenant); err != nil {
			return err
		}
		var err error
		if out, err = secrets(ctx, tx, tenant); err != nil || len(out) > 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_secrets (tenant, secret, created_at) VALUES ($1, $2, $3)`,
			tenant, candidate, now); err != nil {
			return err
		}
		out, err = secrets(ctx, tx, tenant)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: webhook secrets: %w", err)
	}
	return out, nil
}

// RotateWebhookSecret makes secret current and keeps one previous secret.
func (s *Store) RotateWebhookSecret(ctx context.Context, tenant, secret string, now time.Time) ([]store.WebhookSecret, error) {
	var out []store.WebhookSecret
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ytcaption.webhook-secret.' || $1::text, 0))`, tenant); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_secrets (tenant, secret, created_at) VALUES ($1, $2, $3)`,
			tenant, secret, now); err != nil {
			return mapErr(err)
		}
		all, err := secrets(ctx, tx, tenant)
		if err != nil {
			return err
		}
		for _, old := range all[min(2, len(all)):] {
			if _, err := tx.Exec(ctx, `DELETE FROM webhook_secrets WHERE tenant = $1 AND secret = $2`, tenant, old.Secret); err != nil {
				return err
			}
		}
		out = all[:min(2, len(all))]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: rotate webhook secret: %w", err)
	}
	return out, nil
}

const deliveryCols = `id, tenant, endpoint_id, event_id, event_type, job_id, url, payload, status, attempts,
	next_attempt_at, window_start, created_at, updated_at`

func scanDelivery(r pgx.Row) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	err := r.Scan(&d.ID, &d.Tenant, &d.EndpointID, &d.EventID, &d.EventType, &d.JobID, &d.URL, &d.Payload,
		&d.Status, &d.Attempts, &d.NextAttemptAt, &d.WindowStart, &d.CreatedAt, &d.UpdatedAt)
	return d, err
}

func collectDeliveries(rows pgx.Rows, err error) ([]store.WebhookDelivery, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.WebhookDelivery, error) { return scanDelivery(r) })
}

func attempts(ctx context.Context, q querier, d *store.WebhookDelivery) error {
	rows, err := q.Query(ctx, `SELECT delivery_id, n, at, status_code, error, duration_ms FROM webhook_attempts
		WHERE delivery_id = $1 ORDER BY n`, d.ID)
	if err != nil {
		return fmt.Errorf("read attempts of delivery %s: %w", d.ID, err)
	}
	as, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.WebhookAttempt, error) {
		var (
			a  store.WebhookAttempt
			ms int64
		)
		err := r.Scan(&a.DeliveryID, &a.N, &a.At, &a.StatusCode, &a.Error, &ms)
		a.Duration = time.Duration(ms) * time.Millisecond
		return a, err
	})
	if err != nil {
		return fmt.Errorf("read attempts of delivery %s: %w", d.ID, err)
	}
	d.AttemptLog = as
	return nil
}

// ClaimWebhookDeliveries takes due deliveries, skipping rows another
// replica is claiming.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now, until time.Time, limit int) ([]store.WebhookDelivery, error) {
	if limit <= 0 {
		limit = 10
	}
	rows, err := s.pool.Query(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $3
		WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
			ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING `+deliveryCols, now, limit, until)
	out, err := collectDeliveries(rows, err)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim webhook deliveries: %w", err)
	}
	return out, nil
}

// RecordWebhookAttempt logs an attempt and updates its delivery.
func (s *Store) RecordWebhookAttempt(ctx context.Context, a store.WebhookAttempt, status string, next *time.Time) error {
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		var n int
		if err := tx.QueryRow(ctx, `UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1,
			next_attempt_at = $3, updated_at = $4 WHERE id = $1 RETURNING attempts`, a.DeliveryID, status, next, a.At).Scan(&n); err != nil {
			return mapErr(err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, n, at, status_code, error, duration_ms)
			VALUES ($1, $2, $3, $4, $5, $6)`, a.DeliveryID, n, a.At, a.StatusCode, a.Error, a.Duration.Milliseconds())
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: record webhook attempt of %s: %w", a.DeliveryID, err)
	}
	return nil
}

// ListWebhookDeliveries lists deliveries newest first.
func (s *Store) ListWebhookDeliveries(ctx context.Context, f store.DeliveryFilter) ([]store.WebhookDelivery, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	var (
		where = []string{"true"}
		args  []any
	)
	for _, c := range []struct{ col, v string }{{"tenant", f.Tenant}, {"job_id", f.JobID}, {"status", f.Status}} {
		if c.v != "" {
			args = append(args, c.v)
			where = append(where, c.col+" = $"+strconv.Itoa(len(args)))
		}
	}
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at DESC, id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	out, err := collectDeliveries(rows, err)
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhook deliveries: %w", err)
	}
	for i := range out {
		if err := attempts(ctx, s.pool, &out[i]); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	return out, nil
}

// GetWebhookDelivery returns one delivery.
func (s *Store) GetWebhookDelivery(ctx context.Context, tenant, id string) (store.WebhookDelivery, error) {
	d, err := getDelivery(ctx, s.pool, tenant, id)
	if err != nil {
		return d, fmt.Errorf("postgres: get webhook delivery %s: %w", id, err)
	}
	return d, nil
}

func getDelivery(ctx context.Context, q querier, tenant, id string) (store.WebhookDelivery, error) {
	d, err := scanDelivery(q.QueryRow(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries
		WHERE id = $1 AND ($2::text = '' OR tenant = $2::text)`, id, tenant))
	if err != nil {
		return d, mapErr(err)
	}
	return d, attempts(ctx, q, &d)
}

// RedeliverWebhook makes a delivery pending again.
func (s *Store) RedeliverWebhook(ctx context.Context, tenant, id string, now time.Time) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		tag, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3,
			window_start = $3, updated_at = $3 WHERE id = $1 AND ($2::text = '' OR tenant = $2::text)`, id, tenant, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		d, err = getDelivery(ctx, tx, tenant, id)
		return err
	})
	if err != nil {
		return d, fmt.Errorf("postgres: redeliver webhook %s: %w", id, err)
	}
	return d, nil
}

// QueueStats counts unfinished tasks by state.
func (s *Store) QueueStats(ctx context.Context) ([]store.QueueStat, error) {
	rows, err := s.pool.Query(ctx, `SELECT state, count(*), min(CASE WHEN state = 'queued' THEN run_at ELSE updated_at END)
		FROM tasks WHERE state IN ('queued', 'leased') GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("postgres: queue stats: %w", err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.QueueStat, error) {
		var (
			q      store.QueueStat
			oldest *time.Time
		)
		err := r.Scan(&q.State, &q.Count, &oldest)
		if oldest != nil {
			q.Oldest = *oldest
		}
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: queue stats: %w", err)
	}
	out := []store.QueueStat{{State: string(job.TaskQueued)}, {State: string(job.TaskLeased)}}
	for _, g := range got {
		for i := range out {
			if out[i].State == g.State {
				out[i] = g
			}
		}
	}
	return out, nil
}
