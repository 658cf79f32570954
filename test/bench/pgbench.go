package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"
)

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+)`)

// PGInsertCeiling runs pgbench with a single-row INSERT script on the same
// PostgreSQL: the most single-row write transactions a second the server
// commits, the physical reference for submit.
func PGInsertCeiling(ctx context.Context, cfg Config, r *Results) error {
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		return fmt.Errorf("pgbench not installed (Debian ships it in postgresql-15): %w", err)
	}
	conn, err := pgx.Connect(ctx, cfg.PostgresURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	schema := "bench_pgbench_" + randHex(4)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %[1]s;
		CREATE TABLE %[1]s.ins (id bigserial PRIMARY KEY, v integer NOT NULL, at timestamptz NOT NULL DEFAULT now())`, schema)); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	defer dropSchema(cfg.PostgresURL, schema)
	script := filepath.Join(cfg.WorkDir, "pgbench-insert.sql")
	if err := os.WriteFile(script, []byte(`\set v random(1, 1000000)
INSERT INTO `+schema+`.ins (v) VALUES (:v);
`), 0o600); err != nil {
		return fmt.Errorf("write script: %w", err)
	}
	clients := max(1, cfg.Scale.PGClients)
	args := []string{"-n", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(2, clients))}
	if n := cfg.Scale.PGTransactions; n > 0 {
		args = append(args, "-t", strconv.Itoa(n))
	} else {
		args = append(args, "-T", strconv.Itoa(max(1, int(cfg.Scale.Duration.Seconds()))))
	}
	args = append(args, "-f", script, cfg.PostgresURL)
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgbench: %w: %s", err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("pgbench printed no tps: %s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	r.Set("pg_insert_tps_ceiling", tps, "tx/s")
	return nil
}
