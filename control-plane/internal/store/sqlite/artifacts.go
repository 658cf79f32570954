package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

const artifactCols = `id, kind, name, version, sha256, size, key, created_at, created_by, committed_at`

func scanArtifact(r scanner) (store.Artifact, error) {
	var (
		a         store.Artifact
		created   int64
		committed sql.NullInt64
	)
	if err := r.Scan(&a.ID, &a.Kind, &a.Name, &a.Version, &a.SHA256, &a.Size, &a.Key, &created, &a.CreatedBy, &committed); err != nil {
		return a, err
	}
	a.CreatedAt = fromTS(created)
	if committed.Valid {
		a.CommittedAt = fromTS(committed.Int64)
	}
	return a, nil
}

// CreateArtifact stores a pending artifact, replacing (and returning) a
// pending one of the same version.
func (s *Store) CreateArtifact(ctx context.Context, a store.Artifact) ([]store.Artifact, error) {
	var replaced []store.Artifact
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		rows, err := tx.QueryContext(ctx, `DELETE FROM artifacts WHERE kind = ? AND name = ? AND version = ? AND committed_at IS NULL
			RETURNING `+artifactCols, a.Kind, a.Name, a.Version)
		if replaced, err = collect(rows, err, scanArtifact); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO artifacts (`+artifactCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
			a.ID, a.Kind, a.Name, a.Version, a.SHA256, a.Size, a.Key, ts(a.CreatedAt), a.CreatedBy)
		return mapErr(err)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: create artifact: %w", err)
	}
	return replaced, nil
}

// GetArtifact returns one artifact.
func (s *Store) GetArtifact(ctx context.Context, id string) (store.Artifact, error) {
	a, err := scanArtifact(s.r.QueryRowContext(ctx, `SELECT `+artifactCols+` FROM artifacts WHERE id = ?`, id))
	if err != nil {
		return a, fmt.Errorf("sqlite: get artifact %s: %w", id, mapErr(err))
	}
	return a, nil
}

// CommitArtifact makes an artifact visible.
func (s *Store) CommitArtifact(ctx context.Context, id string, now time.Time) (store.Artifact, error) {
	var a store.Artifact
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = scanArtifact(tx.QueryRowContext(ctx, `UPDATE artifacts SET committed_at = coalesce(committed_at, ?)
			WHERE id = ? RETURNING `+artifactCols, ts(now), id))
		return mapErr(err)
	})
	if err != nil {
		return a, fmt.Errorf("sqlite: commit artifact %s: %w", id, err)
	}
	return a, nil
}

// DeleteArtifact removes an artifact.
func (s *Store) DeleteArtifact(ctx context.Context, id string) (store.Artifact, error) {
	var a store.Artifact
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = scanArtifact(tx.QueryRowContext(ctx, `DELETE FROM artifacts WHERE id = ? RETURNING `+artifactCols, id))
		return mapErr(err)
	})
	if err != nil {
		return a, fmt.Errorf("sqlite: delete artifact %s: %w", id, err)
	}
	return a, nil
}

// ListArtifacts lists committed artifacts.
func (s *Store) ListArtifacts(ctx context.Context) ([]store.Artifact, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+artifactCols+` FROM artifacts WHERE committed_at IS NOT NULL
		ORDER BY kind, name, committed_at DESC, id DESC`)
	out, err := collect(rows, err, scanArtifact)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list artifacts: %w", err)
	}
	return out, nil
}
