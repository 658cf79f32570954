package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

const artifactCols = `id, kind, name, version, sha256, size, key, created_at, created_by, committed_at`

func scanArtifact(r pgx.Row) (store.Artifact, error) {
	var (
		a         store.Artifact
		committed *time.Time
	)
	if err := r.Scan(&a.ID, &a.Kind, &a.Name, &a.Version, &a.SHA256, &a.Size, &a.Key, &a.CreatedAt, &a.CreatedBy, &committed); err != nil {
		return a, err
	}
	a.CreatedAt = a.CreatedAt.UTC()
	if committed != nil {
		a.CommittedAt = committed.UTC()
	}
	return a, nil
}

// CreateArtifact stores a pending artifact, replacing (and returning) a
// pending one of the same version.
func (s *Store) CreateArtifact(ctx context.Context, a store.Artifact) ([]store.Artifact, error) {
	var replaced []store.Artifact
	err := s.inPipe(ctx, func(tx *pipeTx) error {
		rows, err := tx.Query(ctx, `DELETE FROM artifacts WHERE kind = $1 AND name = $2 AND version = $3 AND committed_at IS NULL
			RETURNING `+artifactCols, a.Kind, a.Name, a.Version)
		if err != nil {
			return err
		}
		if replaced, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Artifact, error) { return scanArtifact(r) }); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO artifacts (`+artifactCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)`,
			a.ID, a.Kind, a.Name, a.Version, a.SHA256, a.Size, a.Key, a.CreatedAt, a.CreatedBy)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: create artifact: %w", mapErr(err))
	}
	return replaced, nil
}

// GetArtifact returns one artifact.
func (s *Store) GetArtifact(ctx context.Context, id string) (store.Artifact, error) {
	a, err := scanArtifact(s.pool.QueryRow(ctx, `SELECT `+artifactCols+` FROM artifacts WHERE id = $1`, id))
	if err != nil {
		return a, fmt.Errorf("postgres: get artifact %s: %w", id, mapErr(err))
	}
	return a, nil
}

// CommitArtifact makes an artifact visible.
func (s *Store) CommitArtifact(ctx context.Context, id string, now time.Time) (store.Artifact, error) {
	a, err := scanArtifact(s.pool.QueryRow(ctx, `UPDATE artifacts SET committed_at = coalesce(committed_at, $2)
		WHERE id = $1 RETURNING `+artifactCols, id, now))
	if err != nil {
		return a, fmt.Errorf("postgres: commit artifact %s: %w", id, mapErr(err))
	}
	return a, nil
}

// DeleteArtifact removes an artifact.
func (s *Store) DeleteArtifact(ctx context.Context, id string) (store.Artifact, error) {
	a, err := scanArtifact(s.pool.QueryRow(ctx, `DELETE FROM artifacts WHERE id = $1 RETURNING `+artifactCols, id))
	if err != nil {
		return a, fmt.Errorf("postgres: delete artifact %s: %w", id, mapErr(err))
	}
	return a, nil
}

// ListArtifacts lists committed artifacts.
func (s *Store) ListArtifacts(ctx context.Context) ([]store.Artifact, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+artifactCols+` FROM artifacts WHERE committed_at IS NOT NULL
		ORDER BY kind, name, committed_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list artifacts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Artifact, error) { return scanArtifact(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list artifacts: %w", err)
	}
	return out, nil
}
