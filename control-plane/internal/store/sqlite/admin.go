package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

const auditCols = `id, at, key_id, tenant, role, action, target, method, path, status, remote_addr, user_agent, via, detail`

// AppendAudit records one operator action.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if e.ID == "" || e.At.IsZero() {
		return fmt.Errorf("sqlite: append audit: id and at are required")
	}
	var detail any
	if len(e.Detail) > 0 {
		d, err := store.JSONArg(&e.Detail)
		if err != nil {
			return fmt.Errorf("sqlite: append audit: detail: %w", err)
		}
		detail = d
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (`+auditCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, ts(e.At), e.KeyID, e.Tenant, e.Role, e.Action, e.Target, e.Method, e.Path, e.Status,
			e.RemoteAddr, e.UserAgent, e.Via, detail)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: append audit %s: %w", e.Action, err)
	}
	return nil
}

func scanAudit(row scanner) (store.AuditEntry, error) {
	var (
		e      store.AuditEntry
		at     int64
		detail []byte
	)
	if err := row.Scan(&e.ID, &at, &e.KeyID, &e.Tenant, &e.Role, &e.Action, &e.Target, &e.Method, &e.Path,
		&e.Status, &e.RemoteAddr, &e.UserAgent, &e.Via, &detail); err != nil {
		return e, err
	}
	e.At = fromTS(at)
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
	if q.KeyID != "" {
		where, args = append(where, "key_id = ?"), append(args, q.KeyID)
	}
	if q.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, q.Tenant)
	}
	if q.Action != "" {
		// A prefix by substr, not LIKE: no wildcards to escape.
		where = append(where, "(action = ? OR substr(action, 1, length(?) + 1) = ? || '.')")
		args = append(args, q.Action, q.Action, q.Action)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, ts(q.Since))
	}
	if q.Cursor != "" {
		at, id, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: list audit: %w", err)
		}
		where, args = append(where, "(at, id) < (?, ?)"), append(args, ts(at), id)
	}
	query := `SELECT ` + auditCols + ` FROM audit_log`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, query, args...)
	out, err := collect(rows, err, scanAudit)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list audit: %w", err)
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
	rows, err := s.r.QueryContext(ctx, `SELECT name, weight, max_running FROM tenants`)
	shares, err := collect(rows, err, func(r scanner) (store.TenantShare, error) {
		var sh store.TenantShare
		err := r.Scan(&sh.Tenant, &sh.Weight, &sh.MaxRunning)
		return sh, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tenants: %w", err)
	}
	type count struct {
		tenant string
		n      int
	}
	rows, err = s.r.QueryContext(ctx, `SELECT tenant, count(*) FROM api_keys WHERE revoked_at IS NULL GROUP BY tenant`)
	counts, err := collect(rows, err, func(r scanner) (count, error) {
		var c count
		err := r.Scan(&c.tenant, &c.n)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tenants: keys: %w", err)
	}
	keys := make(map[string]int, len(counts))
	for _, c := range counts {
		keys[c.tenant] = c.n
	}
	rows, err = s.r.QueryContext(ctx, `SELECT tenant, status, sum(n) FROM job_totals GROUP BY tenant, status`)
	totals, err := collect(rows, err, func(r scanner) (store.TotalRow, error) {
		var (
			t      store.TotalRow
			status string
		)
		err := r.Scan(&t.Tenant, &status, &t.N)
		t.Status = api.JobStatus(status)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tenants: jobs: %w", err)
	}
	return store.Tenants(shares, keys, totals), nil
}

// ListEnrollments returns every enrollment token, newest first.
func (s *Store) ListEnrollments(ctx context.Context) ([]store.Enrollment, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+enrollmentCols+` FROM enrollments ORDER BY created_at DESC, id DESC`)
	out, err := collect(rows, err, scanEnrollment)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list enrollments: %w", err)
	}
	return out, nil
}

// RevokeEnrollment revokes a token; revoking it again keeps the first time.
func (s *Store) RevokeEnrollment(ctx context.Context, id string, now time.Time) (store.Enrollment, error) {
	var out store.Enrollment
	err := s.write(ctx, func(tx *sql.Tx) error {
		e, err := scanEnrollment(tx.QueryRowContext(ctx, `UPDATE enrollments SET revoked_at = coalesce(revoked_at, ?)
			WHERE id = ? RETURNING `+enrollmentCols, ts(now), id))
		out = e
		return mapErr(err)
	})
	if err != nil {
		return store.Enrollment{}, fmt.Errorf("sqlite: revoke enrollment %s: %w", id, err)
	}
	return out, nil
}
