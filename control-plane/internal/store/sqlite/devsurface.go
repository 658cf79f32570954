package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

func listEndpoints(ctx context.Context, q querier, tenant string) ([]store.WebhookEndpoint, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, tenant, url, events, created_at FROM webhook_endpoints
		WHERE tenant = ? ORDER BY created_at, id`, tenant)
	out, err := collect(rows, err, func(r scanner) (store.WebhookEndpoint, error) {
		var (
			e      store.WebhookEndpoint
			events string
			at     int64
		)
		if err := r.Scan(&e.ID, &e.Tenant, &e.URL, &events, &at); err != nil {
			return e, err
		}
		e.CreatedAt = fromTS(at)
		return e, store.DecodeJSON([]byte(events), &e.Events)
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
	rows, err := s.r.QueryContext(ctx, `SELECT job_id, seq, status, stage, progress, data, created_at FROM job_events
		WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?`, jobID, after, limit)
	out, err := collect(rows, err, func(r scanner) (store.JobEvent, error) {
		var (
			e      store.JobEvent
			status string
			data   []byte
			at     int64
		)
		if err := r.Scan(&e.JobID, &e.Seq, &status, &e.Stage, &e.Progress, &data, &at); err != nil {
			return e, err
		}
		e.Status, e.At = api.JobStatus(status), fromTS(at)
		return e, store.DecodeEvent(data, &e.Job)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: events of job %s: %w", jobID, err)
	}
	return out, nil
}

// GetJobMeta returns a job's metadata.
func (s *Store) GetJobMeta(ctx context.Context, jobID string) (store.JobMeta, error) {
	m, err := jobMeta(ctx, s.r, jobID)
	if err != nil {
		return m, fmt.Errorf("sqlite: meta of job %s: %w", jobID, mapErr(err))
	}
	return m, nil
}

func jobMeta(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, jobID string) (store.JobMeta, error) {
	var m store.JobMeta
	err := q.QueryRowContext(ctx, `SELECT job_id, tenant, cache_key, traceparent FROM job_meta WHERE job_id = ?`, jobID).
		Scan(&m.JobID, &m.Tenant, &m.CacheKey, &m.Traceparent)
	return m, err
}

// LookupCache returns a cached result.
func (s *Store) LookupCache(ctx context.Context, tenant, key string) (store.CacheEntry, error) {
	var (
		e   store.CacheEntry
		res []byte
		at  int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT tenant, cache_key, job_id, result_key, result, created_at FROM result_cache
		WHERE tenant = ? AND cache_key = ?`, tenant, key).Scan(&e.Tenant, &e.Key, &e.JobID, &e.ResultKey, &res, &at)
	if err != nil {
		return e, fmt.Errorf("sqlite: cache lookup: %w", mapErr(err))
	}
	e.CreatedAt = fromTS(at)
	if err := store.DecodeCachedResult(res, &e.Result); err != nil {
		return e, fmt.Errorf("sqlite: cache lookup: %w", err)
	}
	return e, nil
}

// DeleteCache drops a cache entry.
func (s *Store) DeleteCache(ctx context.Context, tenant, key string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM result_cache WHERE tenant = ? AND cache_key = ?`, tenant, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete cache entry: %w", err)
	}
	return nil
}

// CreateWebhookEndpoint stores an endpoint.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) error {
	events, err := json.Marshal(append([]string{}, e.Events...))
	if err != nil {
		return fmt.Errorf("sqlite: create webhook endpoint: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, tenant, url, events, created_at) VALUES (?, ?, ?, ?, ?)`,
			e.ID, e.Tenant, e.URL, string(events), ts(e.CreatedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create webhook endpoint: %w", err)
	}
	return nil
}

// ListWebhookEndpoints lists a tenant's endpoints ("" for all).
func (s *Store) ListWebhookEndpoints(ctx context.Context, tenant string) ([]store.WebhookEndpoint, error) {
	if tenant != "" {
		return listEndpoints(ctx, s.r, tenant)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT tenant FROM webhook_endpoints ORDER BY tenant`)
	tenants, err := collect(rows, err, func(r scanner) (string, error) {
		var t string
		return t, r.Scan(&t)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhook endpoints: %w", err)
	}
	var out []store.WebhookEndpoint
	for _, t := range tenants {
		es, err := listEndpoints(ctx, s.r, t)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// DeleteWebhookEndpoint removes an endpoint.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, tenant, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = ? AND (? = '' OR tenant = ?)`, id, tenant, tenant)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete webhook endpoint %s: %w", id, err)
	}
	return nil
}

func secrets(ctx context.Context, q querier, tenant string) ([]store.WebhookSecret, error) {
	rows, err := q.QueryContext(ctx, `SELECT tenant, secret, created_at FROM webhook_secrets WHERE tenant = ?
		ORDER BY created_at DESC, secret`, tenant)
	return collect(rows, err, func(r scanner) (store.WebhookSecret, error) {
		var (
			w  store.WebhookSecret
			at int64
		)
		err := r.Scan(&w.Tenant, &w.Secret, &at)
		w.CreatedAt = fromTS(at)
		return w, err
	})
}

// WebhookSecrets returns a tenant's secrets, creating the first one.
func (s *Store) WebhookSecrets(ctx context.Context, tenant, candidate string, now time.Time) ([]store.WebhookSecret, error) {
	if out, err := secrets(ctx, s.r, tenant); err != nil || len(out) > 0 {
		if err != nil {
			return nil, fmt.Errorf("sqlite: webhook secrets: %w", err)
		}
		return out, nil
	}
	var out []store.WebhookSecret
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if out, err = secrets(ctx, tx, tenant); err != nil || len(out) > 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_secrets (tenant, secret, created_at) VALUES (?, ?, ?)`,
			tenant, candidate, ts(now)); err != nil {
			return err
		}
		out, err = secrets(ctx, tx, tenant)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhook secrets: %w", err)
	}
	return out, nil
}

// RotateWebhookSecret makes secret current and keeps one previous secret.
func (s *Store) RotateWebhookSecret(ctx context.Context, tenant, secret string, now time.Time) ([]store.WebhookSecret, error) {
	var out []store.WebhookSecret
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_secrets (tenant, secret, created_at) VALUES (?, ?, ?)`,
			tenant, secret, ts(now)); err != nil {
			return mapErr(err)
		}
		all, err := secrets(ctx, tx, tenant)
		if err != nil {
			return err
		}
		for _, old := range all[min(2, len(all)):] {
			if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_secrets WHERE tenant = ? AND secret = ?`, tenant, old.Secret); err != nil {
				return err
			}
		}
		out = all[:min(2, len(all))]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: rotate webhook secret: %w", err)
	}
	return out, nil
}

const deliveryCols = `id, tenant, endpoint_id, event_id, event_type, job_id, url, payload, status, attempts,
	next_attempt_at, window_start, created_at, updated_at`

func scanDelivery(r scanner) (store.WebhookDelivery, error) {
	var (
		d                store.WebhookDelivery
		next             sql.NullInt64
		window, cAt, uAt int64
	)
	if err := r.Scan(&d.ID, &d.Tenant, &d.EndpointID, &d.EventID, &d.EventType, &d.JobID, &d.URL, &d.Payload,
		&d.Status, &d.Attempts, &next, &window, &cAt, &uAt); err != nil {
		return d, err
	}
	d.NextAttemptAt, d.WindowStart, d.CreatedAt, d.UpdatedAt = fromNullTS(next), fromTS(window), fromTS(cAt), fromTS(uAt)
	return d, nil
}

func attempts(ctx context.Context, q querier, d *store.WebhookDelivery) error {
	rows, err := q.QueryContext(ctx, `SELECT delivery_id, n, at, status_code, error, duration_ms FROM webhook_attempts
		WHERE delivery_id = ? ORDER BY n`, d.ID)
	as, err := collect(rows, err, func(r scanner) (store.WebhookAttempt, error) {
		var (
			a      store.WebhookAttempt
			at, ms int64
		)
		err := r.Scan(&a.DeliveryID, &a.N, &at, &a.StatusCode, &a.Error, &ms)
		a.At, a.Duration = fromTS(at), time.Duration(ms)*time.Millisecond
		return a, err
	})
	if err != nil {
		return fmt.Errorf("read attempts of delivery %s: %w", d.ID, err)
	}
	d.AttemptLog = as
	return nil
}

// ClaimWebhookDeliveries takes due deliveries.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now, until time.Time, limit int) ([]store.WebhookDelivery, error) {
	if limit <= 0 {
		limit = 10
	}
	var out []store.WebhookDelivery
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries
			WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`, ts(now), limit)
		if out, err = collect(rows, err, scanDelivery); err != nil {
			return err
		}
		for i := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?`,
				ts(until), out[i].ID); err != nil {
				return err
			}
			u := until
			out[i].NextAttemptAt = &u
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim webhook deliveries: %w", err)
	}
	return out, nil
}

// RecordWebhookAttempt logs an attempt and updates its delivery.
func (s *Store) RecordWebhookAttempt(ctx context.Context, a store.WebhookAttempt, status string, next *time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(n), 0) FROM webhook_attempts WHERE delivery_id = ?`,
			a.DeliveryID).Scan(&n); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, n, at, status_code, error, duration_ms)
			VALUES (?, ?, ?, ?, ?, ?)`, a.DeliveryID, n+1, ts(a.At), a.StatusCode, a.Error, a.Duration.Milliseconds()); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,
			updated_at = ? WHERE id = ?`, status, n+1, nullTSPtr(next), ts(a.At), a.DeliveryID)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: record webhook attempt of %s: %w", a.DeliveryID, err)
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
		where = []string{"1 = 1"}
		args  []any
	)
	for col, v := range map[string]string{"tenant": f.Tenant, "job_id": f.JobID, "status": f.Status} {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit)...)
	out, err := collect(rows, err, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhook deliveries: %w", err)
	}
	for i := range out {
		if err := attempts(ctx, s.r, &out[i]); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	return out, nil
}

// GetWebhookDelivery returns one delivery.
func (s *Store) GetWebhookDelivery(ctx context.Context, tenant, id string) (store.WebhookDelivery, error) {
	d, err := getDelivery(ctx, s.r, tenant, id)
	if err != nil {
		return d, fmt.Errorf("sqlite: get webhook delivery %s: %w", id, err)
	}
	return d, nil
}

func getDelivery(ctx context.Context, q querier, tenant, id string) (store.WebhookDelivery, error) {
	d, err := scanDelivery(q.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries
		WHERE id = ? AND (? = '' OR tenant = ?)`, id, tenant, tenant))
	if err != nil {
		return d, mapErr(err)
	}
	return d, attempts(ctx, q, &d)
}

// RedeliverWebhook makes a delivery pending again.
func (s *Store) RedeliverWebhook(ctx context.Context, tenant, id string, now time.Time) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?,
			window_start = ?, updated_at = ? WHERE id = ? AND (? = '' OR tenant = ?)`, ts(now), ts(now), ts(now), id, tenant, tenant)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		d, err = getDelivery(ctx, tx, tenant, id)
		return err
	})
	if err != nil {
		return d, fmt.Errorf("sqlite: redeliver webhook %s: %w", id, err)
	}
	return d, nil
}

// QueueStats counts unfinished tasks by state.
func (s *Store) QueueStats(ctx context.Context) ([]store.QueueStat, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT state, count(*), min(CASE WHEN state = 'queued' THEN run_at ELSE updated_at END)
		FROM tasks WHERE state IN ('queued', 'leased') GROUP BY state`)
	got, err := collect(rows, err, func(r scanner) (store.QueueStat, error) {
		var (
			q      store.QueueStat
			oldest sql.NullInt64
		)
		err := r.Scan(&q.State, &q.Count, &oldest)
		if oldest.Valid {
			q.Oldest = fromTS(oldest.Int64)
		}
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: queue stats: %w", err)
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
