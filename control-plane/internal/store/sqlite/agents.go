package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

const enrollmentCols = `id, token_hash, labels, max_uses, uses, expires_at, created_at, revoked_at`

func scanEnrollment(row scanner) (store.Enrollment, error) {
	var (
		e                store.Enrollment
		labels           []byte
		created          int64
		expires, revoked sql.NullInt64
	)
	if err := row.Scan(&e.ID, &e.TokenHash, &labels, &e.MaxUses, &e.Uses, &expires, &created, &revoked); err != nil {
		return e, err
	}
	e.CreatedAt = fromTS(created)
	if x := fromNullTS(expires); x != nil {
		e.ExpiresAt = *x
	}
	e.RevokedAt = fromNullTS(revoked)
	if err := store.DecodeJSON(labels, &e.Labels); err != nil {
		return e, fmt.Errorf("enrollment %s labels: %w", e.ID, err)
	}
	return e, nil
}

// CreateEnrollment stores an enrollment token. A zero ExpiresAt never expires.
func (s *Store) CreateEnrollment(ctx context.Context, e store.Enrollment) error {
	labels, err := store.JSONArg(&e.Labels)
	if err != nil {
		return fmt.Errorf("sqlite: create enrollment: labels: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO enrollments (`+enrollmentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.TokenHash, labels, e.MaxUses, e.Uses, nullTS(e.ExpiresAt), ts(e.CreatedAt), nullTSPtr(e.RevokedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create enrollment %s: %w", e.ID, err)
	}
	return nil
}

// UseEnrollment consumes one use of a valid enrollment token.
func (s *Store) UseEnrollment(ctx context.Context, tokenHash string, now time.Time) (store.Enrollment, error) {
	var out store.Enrollment
	err := s.write(ctx, func(tx *sql.Tx) error {
		e, err := scanEnrollment(tx.QueryRowContext(ctx, `SELECT `+enrollmentCols+` FROM enrollments WHERE token_hash = ?`, tokenHash))
		if err != nil {
			return mapErr(err)
		}
		if e, err = e.Use(now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE enrollments SET uses = ? WHERE id = ?`, e.Uses, e.ID); err != nil {
			return fmt.Errorf("count use: %w", err)
		}
		out = e
		return nil
	})
	if err != nil {
		return store.Enrollment{}, fmt.Errorf("sqlite: use enrollment: %w", err)
	}
	return out, nil
}

// agentCols reads an agent with the count of its leased tasks and the
// oldest of them as a JSON array (store.DecodeAgentTasks), both through
// the index tasks_leased_agent.
var agentCols = `a.id, a.name, a.hostname, a.version, a.token_hash, a.enrollment_id, a.capabilities,
	a.draining, a.created_at, a.last_seen_at, a.revoked_at,
	a.token_expires_at, a.prev_token_hash, a.prev_token_expires_at,
	(SELECT count(*) FROM tasks t WHERE t.state = 'leased' AND t.agent_id = a.id),
	(SELECT json_group_array(json_object('id', t.id, 'job_id', t.job_id, 'kind', t.kind,
		'stage', t.stage, 'started_us', t.started_at, 'chunk', json(t.chunk)) ORDER BY t.started_at, t.id)
	FROM (SELECT id, job_id, kind, stage, started_at, chunk FROM tasks
		WHERE state = 'leased' AND agent_id = a.id
		ORDER BY started_at, id LIMIT ` + strconv.Itoa(store.MaxAgentTasks) + `) t)`

func scanAgent(row scanner) (store.Agent, error) {
	var (
		a                      store.Agent
		caps, tasks            []byte
		created, lastSeen      int64
		revoked, expires, prev sql.NullInt64
	)
	if err := row.Scan(&a.ID, &a.Name, &a.Hostname, &a.Version, &a.TokenHash, &a.EnrollmentID, &caps,
		&a.Draining, &created, &lastSeen, &revoked, &expires, &a.PrevTokenHash, &prev, &a.ActiveTasks, &tasks); err != nil {
		return a, err
	}
	a.CreatedAt, a.LastSeenAt, a.RevokedAt = fromTS(created), fromTS(lastSeen), fromNullTS(revoked)
	if expires.Valid {
		a.TokenExpiresAt = fromTS(expires.Int64)
	}
	if prev.Valid {
		a.PrevTokenExpiresAt = fromTS(prev.Int64)
	}
	if err := store.DecodeCapabilities(caps, &a.Capabilities); err != nil {
		return a, fmt.Errorf("agent %s capabilities: %w", a.ID, err)
	}
	if err := store.DecodeAgentTasks(tasks, &a.Tasks); err != nil {
		return a, fmt.Errorf("agent %s tasks: %w", a.ID, err)
	}
	return a, nil
}

// CreateAgent registers an agent.
func (s *Store) CreateAgent(ctx context.Context, a store.Agent) error {
	caps, err := store.CapabilitiesArg(&a.Capabilities)
	if err != nil {
		return fmt.Errorf("sqlite: create agent: capabilities: %w", err)
	}
	lastSeen := a.LastSeenAt
	if lastSeen.IsZero() {
		lastSeen = a.CreatedAt
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO agents (id, name, hostname, version, token_hash,
			enrollment_id, capabilities, draining, created_at, last_seen_at, revoked_at,
			token_expires_at, prev_token_hash, prev_token_expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Name, a.Hostname, a.Version, a.TokenHash, a.EnrollmentID, caps, a.Draining,
			ts(a.CreatedAt), ts(lastSeen), nullTSPtr(a.RevokedAt),
			nullTS(a.TokenExpiresAt), a.PrevTokenHash, nullTS(a.PrevTokenExpiresAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create agent %s: %w", a.ID, err)
	}
	return nil
}

// GetAgent returns an agent with the number of tasks it holds.
func (s *Store) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	a, err := scanAgent(s.r.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents a WHERE a.id = ?`, id))
	if err != nil {
		return store.Agent{}, fmt.Errorf("sqlite: get agent %s: %w", id, mapErr(err))
	}
	return a, nil
}

// AgentByTokenHash finds an agent by its credential (revoked ones included:
// the caller tells "revoked" from "unknown").
func (s *Store) AgentByTokenHash(ctx context.Context, tokenHash string) (store.Agent, error) {
	a, err := scanAgent(s.r.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents a WHERE a.token_hash = ?`, tokenHash))
	if err != nil {
		return store.Agent{}, fmt.Errorf("sqlite: agent by token: %w", mapErr(err))
	}
	return a, nil
}

// ListAgents returns every agent, oldest first.
func (s *Store) ListAgents(ctx context.Context) ([]store.Agent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+agentCols+` FROM agents a ORDER BY a.created_at, a.id`)
	agents, err := collect(rows, err, scanAgent)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list agents: %w", err)
	}
	return agents, nil
}

// execOne runs one write statement and reports ErrNotFound when it matched no row.
func (s *Store) execOne(ctx context.Context, query string, args ...any) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// TouchAgent records that the agent was seen, and its capabilities if given.
func (s *Store) TouchAgent(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error {
	capsJ, err := store.CapabilitiesArg(caps)
	if err != nil {
		return fmt.Errorf("sqlite: touch agent: capabilities: %w", err)
	}
	if err := s.execOne(ctx, `UPDATE agents SET last_seen_at = ?, capabilities = coalesce(?, capabilities) WHERE id = ?`,
		ts(now), capsJ, id); err != nil {
		return fmt.Errorf("sqlite: touch agent %s: %w", id, err)
	}
	return nil
}

// SetAgentDrain starts or stops draining an agent.
func (s *Store) SetAgentDrain(ctx context.Context, id string, drain bool, _ time.Time) error {
	if err := s.execOne(ctx, `UPDATE agents SET draining = ? WHERE id = ?`, drain, id); err != nil {
		return fmt.Errorf("sqlite: drain agent %s: %w", id, err)
	}
	return nil
}

// RevokeAgent cuts the agent off and requeues its leased tasks at once, as
// if it had released them: the agent is gone, not the work at fault.
func (s *Store) RevokeAgent(ctx context.Context, id string, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE agents SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, ts(now), id)
		if err != nil {
			return fmt.Errorf("mark revoked: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(store.ErrNotFound, err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT job_id FROM tasks
			WHERE state = 'leased' AND agent_id = ? ORDER BY job_id`, id)
		ids, err := collect(rows, err, func(r scanner) (string, error) {
			var id string
			return id, r.Scan(&id)
		})
		if err != nil {
			return fmt.Errorf("read jobs: %w", err)
		}
		_, err = store.ChangeJobs(ctx, stateTx{tx}, "", ids, func(st *job.State) (job.Change, error) {
			return st.ReleaseAgent(id, now)
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke agent %s: %w", id, err)
	}
	return nil
}

const apiKeyCols = `id, tenant, role, name, hash, created_at, expires_at, revoked_at`

func scanAPIKey(row scanner) (store.APIKey, error) {
	var (
		k                store.APIKey
		role             string
		created          int64
		expires, revoked sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Tenant, &role, &k.Name, &k.Hash, &created, &expires, &revoked); err != nil {
		return k, err
	}
	k.Role = store.Role(role)
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = fromTS(created), fromNullTS(expires), fromNullTS(revoked)
	return k, nil
}

// CreateAPIKey stores a key, creating its tenant if needed.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (name, created_at) VALUES (?, ?)
			ON CONFLICT (name) DO NOTHING`, k.Tenant, ts(k.CreatedAt)); err != nil {
			return fmt.Errorf("create tenant: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Tenant, string(k.Role), k.Name, k.Hash, ts(k.CreatedAt), nullTSPtr(k.ExpiresAt), nullTSPtr(k.RevokedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create api key %s: %w", k.ID, err)
	}
	return nil
}

// GetAPIKey returns a key by id.
func (s *Store) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	k, err := scanAPIKey(s.r.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = ?`, id))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("sqlite: get api key %s: %w", id, mapErr(err))
	}
	return k, nil
}

// ListAPIKeys returns a tenant's keys ("" for every tenant), oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, tenant string) ([]store.APIKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys
		WHERE ? = '' OR tenant = ? ORDER BY created_at, id`, tenant, tenant)
	keys, err := collect(rows, err, scanAPIKey)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes a key; revoking it again keeps the first time.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, now time.Time) error {
	if err := s.execOne(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, ts(now), id); err != nil {
		return fmt.Errorf("sqlite: revoke api key %s: %w", id, err)
	}
	return nil
}

// AcquireLeadership takes the named leadership when it is free or expired,
// or renews it when holder already has it, in one statement.
func (s *Store) AcquireLeadership(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var got bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		var h string
		err := tx.QueryRowContext(ctx, `INSERT INTO leaders (name, holder, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leaders.holder = excluded.holder OR leaders.expires_at <= ?
			RETURNING holder`, name, holder, ts(now.Add(ttl)), ts(now)).Scan(&h)
		if errors.Is(err, sql.ErrNoRows) {
			got = false
			return nil
		}
		got = h == holder
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire leadership %s: %w", name, err)
	}
	return got, nil
}
