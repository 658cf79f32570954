package postgres

import (
	"context"
	"fmt"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// RenewAgentToken rotates an agent's credential under a row lock, so two
// renewals racing with the same token cannot both succeed.
func (s *Store) RenewAgentToken(ctx context.Context, r store.AgentTokenRenewal) (store.Agent, error) {
	var out store.Agent
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		a, err := scanAgent(tx.QueryRow(ctx, `SELECT `+agentCols+` FROM agents a WHERE a.id = $1 FOR UPDATE OF a`, r.AgentID))
		if err != nil {
			return mapErr(err)
		}
		t, err := a.Renew(r)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE agents SET token_hash = $2, token_expires_at = $3,
			prev_token_hash = $4, prev_token_expires_at = $5 WHERE id = $1`,
			r.AgentID, t.Hash, timeArg(t.ExpiresAt), t.PrevHash, timeArg(t.PrevExpiresAt)); err != nil {
			return mapErr(err)
		}
		out, err = scanAgent(tx.QueryRow(ctx, `SELECT `+agentCols+` FROM agents a WHERE a.id = $1`, r.AgentID))
		return err
	})
	if err != nil {
		return store.Agent{}, fmt.Errorf("postgres: renew agent token %s: %w", r.AgentID, err)
	}
	return out, nil
}
