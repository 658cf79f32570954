package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

const auditCols = `id, at, key_id, tenant, role, action, target, method, path, status, remote_addr, user_agent, via, detail`

// AppendAudit records one operator action.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if e.ID == "" || e.At.IsZero() {
		return fmt.Errorf("postgres: append audit: id and at are required")
	}
	var detail any
	if len(e.Detail) > 0 {
		d, err := store.JSONArg(&e.Detail)
		if err != nil {
			return fmt.Errorf("postgres: append audit: detail: %w", err)
		}
		detail = d
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_log (`+auditCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		e.ID, e.At, e.KeyID, e.Tenant, e.Role, e.Action, e.Target, e.Method, e.Path, e.Status,
		e.RemoteAddr, e.UserAgent, e.Via, detail)
	if err != nil {
		return fmt.Errorf("postgres: append audit %s: %w", e.Action, mapErr(err))
	}
	return nil
}

func scanAudit(row pgx.Row) (store.AuditEntry, error) {
	var (
		e      store.AuditEntry
		detail []byte
	)
	if err := row.Scan(&e.ID, &e.At, &e.KeyID, &e.Tenant, &e.Role, &e.Action, &e.Target, &e.Method, &e.Path,
		&e.Status, &e.RemoteAddr, &e.UserAgent, &e.Via, &detail); err != nil {
		return e, err
	}
	e.At = e.At.UTC()
	if err := store.DecodeJSON(detail, &e.Detail); err != nil {
		return e, fmt.Errorf("audit entry %s detail: %w", e.ID, err)
	}
	return e, nil
}

// ListAudit returns entries newest first, paging by (at, id).
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, string, error) {
	limit := store.PageLimit(q.Limit)
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.KeyID != "" {
		where = append(where, "key_id = "+arg(q.KeyID))
	}
	if q.Tenant != "" {
		where = append(where, "tenant = "+arg(q.Tenant))
	}
	if q.Action != "" {
		a := arg(q.Action)
		where = append(where, "(action = "+a+"::text OR starts_with(action, "+a+"::text || '.'))")
	}
	if !q.Since.IsZero() {
		where = append(where, "at >= "+arg(q.Since))
	}
	if q.Cursor != "" {
		at, id, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("postgres: list audit: %w", err)
		}
		where = append(where, "(at, id) < ("+arg(at)+"::timestamptz, "+arg(id)+"::text)")
	}
	sql := `SELECT ` + auditCols + ` FROM audit_log`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY at DESC, id DESC LIMIT " + arg(limit+1)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", fmt.Errorf("postgres: list audit: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AuditEntry, error) { return scanAudit(r) })
	if err != nil {
		return nil, "", fmt.Errorf("postgres: list audit: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = store.AuditCursor(out[limit-1])
	}
	return out, next, nil
}

// ListTenants merges the tenants table (shares), the keys per tenant and
// the job_totals rollup, so that it reads no job rows.
func (s *Store) ListTenants(ctx context.Context) ([]store.TenantInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, weight, max_running FROM tenants`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tenants: %w", err)
	}
	shares, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.TenantShare, error) {
		var sh store.TenantShare
		err := r.Scan(&sh.Tenant, &sh.Weight, &sh.MaxRunning)
		return sh, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list tenants: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT tenant, count(*) FROM api_keys WHERE revoked_at IS NULL GROUP BY tenant`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tenants: keys: %w", err)
	}
	keys := map[string]int{}
	var (
		tenant string
		n      int
	)
	if _, err := pgx.ForEachRow(rows, []any{&tenant, &n}, func() error { keys[tenant] = n; return nil }); err != nil {
		return nil, fmt.Errorf("postgres: list tenants: keys: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT tenant, status, sum(n)::bigint FROM job_totals GROUP BY tenant, status`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tenants: jobs: %w", err)
	}
	totals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.TotalRow, error) {
		var (
			t      store.TotalRow
			status string
		)
		err := r.Scan(&t.Tenant, &status, &t.N)
		t.Status = api.JobStatus(status)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list tenants: jobs: %w", err)
	}
	return store.Tenants(shares, keys, totals), nil
}

const enrollmentList = `SELECT ` + enrollmentCols + ` FROM enrollments`

// ListEnrollments returns every enrollment token, newest first.
func (s *Store) ListEnrollments(ctx context.Context) ([]store.Enrollment, error) {
	rows, err := s.pool.Query(ctx, enrollmentList+` ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list enrollments: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Enrollment, error) { return scanEnrollment(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list enrollments: %w", err)
	}
	return out, nil
}

// RevokeEnrollment revokes a token; revoking it again keeps the first time.
func (s *Store) RevokeEnrollment(ctx context.Context, id string, now time.Time) (store.Enrollment, error) {
	e, err := scanEnrollment(s.pool.QueryRow(ctx, `UPDATE enrollments SET revoked_at = coalesce(revoked_at, $2)
		WHERE id = $1 RETURNING `+enrollmentCols, id, now))
	if err != nil {
		return store.Enrollment{}, fmt.Errorf("postgres: revoke enrollment %s: %w", id, mapErr(err))
	}
	return e, nil
}
