package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

const enrollmentCols = `id, token_hash, labels, max_uses, uses, expires_at, created_at, revoked_at`

func scanEnrollment(row pgx.Row) (store.Enrollment, error) {
	var (
		e                store.Enrollment
		labels           []byte
		expires, revoked *time.Time
	)
	if err := row.Scan(&e.ID, &e.TokenHash, &labels, &e.MaxUses, &e.Uses, &expires, &e.CreatedAt, &revoked); err != nil {
		return e, err
	}
	e.CreatedAt = e.CreatedAt.UTC()
	if expires != nil {
		e.ExpiresAt = expires.UTC()
	}
	e.RevokedAt = utcPtr(revoked)
	if err := store.DecodeJSON(labels, &e.Labels); err != nil {
		return e, fmt.Errorf("enrollment %s labels: %w", e.ID, err)
	}
	return e, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CreateEnrollment stores an enrollment token. A zero ExpiresAt never expires.
func (s *Store) CreateEnrollment(ctx context.Context, e store.Enrollment) error {
	labels, err := store.JSONArg(&e.Labels)
	if err != nil {
		return fmt.Errorf("postgres: create enrollment: labels: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO enrollments (`+enrollmentCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, e.TokenHash, labels, e.MaxUses, e.Uses, timeArg(e.ExpiresAt), e.CreatedAt, timePtrArg(e.RevokedAt))
	if err != nil {
		return fmt.Errorf("postgres: create enrollment %s: %w", e.ID, mapErr(err))
	}
	return nil
}

// UseEnrollment consumes one use of a valid enrollment token.
func (s *Store) UseEnrollment(ctx context.Context, tokenHash string, now time.Time) (store.Enrollment, error) {
	var out store.Enrollment
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		e, err := scanEnrollment(tx.QueryRow(ctx, `SELECT `+enrollmentCols+` FROM enrollments
			WHERE token_hash = $1 FOR UPDATE`, tokenHash))
		if err != nil {
			return mapErr(err)
		}
		if e, err = e.Use(now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE enrollments SET uses = $2 WHERE id = $1`, e.ID, e.Uses); err != nil {
			return fmt.Errorf("count use: %w", err)
		}
		out = e
		return nil
	})
	if err != nil {
		return store.Enrollment{}, fmt.Errorf("postgres: use enrollment: %w", err)
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
	(SELECT coalesce(json_agg(json_build_object('id', t.id, 'job_id', t.job_id, 'kind', t.kind,
		'stage', t.stage, 'started_us', (extract(epoch FROM t.started_at) * 1000000)::bigint,
		'chunk', t.chunk) ORDER BY t.started_at, t.id), '[]')
	FROM (SELECT id, job_id, kind, stage, started_at, chunk FROM tasks
		WHERE state = 'leased' AND agent_id = a.id
		ORDER BY started_at, id LIMIT ` + strconv.Itoa(store.MaxAgentTasks) + `) t)`

func scanAgent(row pgx.Row) (store.Agent, error) {
	var (
		a                      store.Agent
		caps, tasks            []byte
		revoked, expires, prev *time.Time
	)
	if err := row.Scan(&a.ID, &a.Name, &a.Hostname, &a.Version, &a.TokenHash, &a.EnrollmentID, &caps,
		&a.Draining, &a.CreatedAt, &a.LastSeenAt, &revoked, &expires, &a.PrevTokenHash, &prev, &a.ActiveTasks, &tasks); err != nil {
		return a, err
	}
	a.CreatedAt, a.LastSeenAt = a.CreatedAt.UTC(), a.LastSeenAt.UTC()
	a.RevokedAt = utcPtr(revoked)
	if expires != nil {
		a.TokenExpiresAt = expires.UTC()
	}
	if prev != nil {
		a.PrevTokenExpiresAt = prev.UTC()
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
		return fmt.Errorf("postgres: create agent: capabilities: %w", err)
	}
	lastSeen := a.LastSeenAt
	if lastSeen.IsZero() {
		lastSeen = a.CreatedAt
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO agents (id, name, hostname, version, token_hash,
		enrollment_id, capabilities, draining, created_at, last_seen_at, revoked_at,
		token_expires_at, prev_token_hash, prev_token_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		a.ID, a.Name, a.Hostname, a.Version, a.TokenHash, a.EnrollmentID, caps, a.Draining,
		a.CreatedAt, lastSeen, timePtrArg(a.RevokedAt),
		timeArg(a.TokenExpiresAt), a.PrevTokenHash, timeArg(a.PrevTokenExpiresAt))
	if err != nil {
		return fmt.Errorf("postgres: create agent %s: %w", a.ID, mapErr(err))
	}
	return nil
}

// GetAgent returns an agent with the number of tasks it holds.
func (s *Store) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	a, err := scanAgent(s.pool.QueryRow(ctx, `SELECT `+agentCols+` FROM agents a WHERE a.id = $1`, id))
	if err != nil {
		return store.Agent{}, fmt.Errorf("postgres: get agent %s: %w", id, mapErr(err))
	}
	return a, nil
}

// AgentByTokenHash finds an agent by its credential (revoked ones included:
// the caller tells "revoked" from "unknown").
func (s *Store) AgentByTokenHash(ctx context.Context, tokenHash string) (store.Agent, error) {
	a, err := scanAgent(s.pool.QueryRow(ctx, `SELECT `+agentCols+` FROM agents a WHERE a.token_hash = $1`, tokenHash))
	if err != nil {
		return store.Agent{}, fmt.Errorf("postgres: agent by token: %w", mapErr(err))
	}
	return a, nil
}

// ListAgents returns every agent, oldest first.
func (s *Store) ListAgents(ctx context.Context) ([]store.Agent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+agentCols+` FROM agents a ORDER BY a.created_at, a.id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list agents: %w", err)
	}
	agents, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Agent, error) { return scanAgent(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list agents: %w", err)
	}
	return agents, nil
}

// TouchAgent records that the agent was seen, and its capabilities if given.
func (s *Store) TouchAgent(ctx context.Context, id string, now time.Time, caps *api.Capabilities) error {
	capsJ, err := store.CapabilitiesArg(caps)
	if err != nil {
		return fmt.Errorf("postgres: touch agent: capabilities: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE agents SET last_seen_at = $2,
		capabilities = coalesce($3::jsonb, capabilities) WHERE id = $1`, id, now, capsJ)
	if err != nil {
		return fmt.Errorf("postgres: touch agent %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: touch agent %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// SetAgentDrain starts or stops draining an agent.
func (s *Store) SetAgentDrain(ctx context.Context, id string, drain bool, _ time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE agents SET draining = $2 WHERE id = $1`, id, drain)
	if err != nil {
		return fmt.Errorf("postgres: drain agent %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: drain agent %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// RevokeAgent cuts the agent off and requeues its leased tasks at once, as
// if it had released them: the agent is gone, not the work at fault.
func (s *Store) RevokeAgent(ctx context.Context, id string, now time.Time) error {
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		tag, err := tx.Exec(ctx, `UPDATE agents SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, now)
		if err != nil {
			return fmt.Errorf("mark revoked: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		// Jobs first, in id order, then their tasks: the store's lock order.
		rows, err := tx.Query(ctx, `SELECT id FROM jobs WHERE id IN (
			SELECT job_id FROM tasks WHERE state = 'leased' AND agent_id = $1)
			ORDER BY id FOR UPDATE`, id)
		if err != nil {
			return fmt.Errorf("lock jobs: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("lock jobs: %w", err)
		}
		_, err = store.ChangeJobs(ctx, stateTx{tx: tx}, "", ids, func(st *job.State) (job.Change, error) {
			return st.ReleaseAgent(id, now)
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: revoke agent %s: %w", id, err)
	}
	return nil
}

const apiKeyCols = `id, tenant, role, name, hash, created_at, expires_at, revoked_at`

func scanAPIKey(row pgx.Row) (store.APIKey, error) {
	var (
		k                store.APIKey
		role             string
		expires, revoked *time.Time
	)
	if err := row.Scan(&k.ID, &k.Tenant, &role, &k.Name, &k.Hash, &k.CreatedAt, &expires, &revoked); err != nil {
		return k, err
	}
	k.Role = store.Role(role)
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.RevokedAt = utcPtr(expires), utcPtr(revoked)
	return k, nil
}

// CreateAPIKey stores a key, creating its tenant if needed.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (name, created_at) VALUES ($1, $2)
			ON CONFLICT (name) DO NOTHING`, k.Tenant, k.CreatedAt); err != nil {
			return fmt.Errorf("create tenant: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			k.ID, k.Tenant, string(k.Role), k.Name, k.Hash, k.CreatedAt, timePtrArg(k.ExpiresAt), timePtrArg(k.RevokedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("postgres: create api key %s: %w", k.ID, err)
	}
	return nil
}

// GetAPIKey returns a key by id.
func (s *Store) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	k, err := scanAPIKey(s.pool.QueryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = $1`, id))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("postgres: get api key %s: %w", id, mapErr(err))
	}
	return k, nil
}

// ListAPIKeys returns a tenant's keys ("" for every tenant), oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, tenant string) ([]store.APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiKeyCols+` FROM api_keys
		WHERE $1::text = '' OR tenant = $1::text ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("postgres: list api keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.APIKey, error) { return scanAPIKey(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list api keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes a key; revoking it again keeps the first time.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, now)
	if err != nil {
		return fmt.Errorf("postgres: revoke api key %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: revoke api key %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// AcquireLeadership takes the named leadership when it is free or expired,
// or renews it when holder already has it, in one statement.
func (s *Store) AcquireLeadership(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var got string
	err := s.pool.QueryRow(ctx, `INSERT INTO leaders (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leaders.holder = excluded.holder OR leaders.expires_at <= $4
		RETURNING holder`, name, holder, now.Add(ttl), now).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: acquire leadership %s: %w", name, err)
	}
	return got == holder, nil
}
