package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// RenewAgentToken rotates an agent's credential inside one write
// transaction (SQLite has a single writer), so two renewals racing with the
// same token cannot both succeed.
func (s *Store) RenewAgentToken(ctx context.Context, r store.AgentTokenRenewal) (store.Agent, error) {
	var out store.Agent
	err := s.write(ctx, func(tx *sql.Tx) error {
		a, err := scanAgent(tx.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents a WHERE a.id = ?`, r.AgentID))
		if err != nil {
			return mapErr(err)
		}
		t, err := a.Renew(r)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE agents SET token_hash = ?, token_expires_at = ?,
			prev_token_hash = ?, prev_token_expires_at = ? WHERE id = ?`,
			t.Hash, nullTS(t.ExpiresAt), t.PrevHash, nullTS(t.PrevExpiresAt), r.AgentID); err != nil {
			return mapErr(err)
		}
		out, err = scanAgent(tx.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents a WHERE a.id = ?`, r.AgentID))
		return err
	})
	if err != nil {
		return store.Agent{}, fmt.Errorf("sqlite: renew agent token %s: %w", r.AgentID, err)
	}
	return out, nil
}
