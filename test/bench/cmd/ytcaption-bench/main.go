// Command ytcaption-bench runs the performance harness (make bench): it
// prints "bench: <metric> <value> <unit>" lines and updates
// docs/performance.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ytcaption/ytcaption/test/bench"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		bin   = flag.String("bin", "bin/ytcaption", "control plane binary")
		pg    = flag.String("postgres", envOr("YTCAPTION_TEST_POSTGRES_URL", "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL admin URL")
		rd    = flag.String("redis", envOr("YTCAPTION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis URL")
		work  = flag.String("work", ".cache/bench", "directory for server logs and data")
		doc   = flag.String("doc", "docs/performance.md", "document to write the table into (empty: none)")
		only  = flag.String("only", "", "comma-separated benchmarks to run (default all)")
		smoke = flag.Bool("smoke", false, "tiny counts: check that the harness works")
		level = flag.String("server-log-level", "info", "the server's log level")
		load  = flag.Int("stress-cpu", 0, "run `stress-ng --cpu N` beside the benchmarks (the loaded run)")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sc := bench.FullScale()
	if *smoke {
		sc = bench.SmokeScale()
	}
	cfg := bench.Config{Bin: *bin, PostgresURL: *pg, RedisURL: *rd, WorkDir: *work, LogLevel: *level,
		Scale: sc, Out: os.Stdout, Log: log, StressCPU: *load}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	when := time.Now()
	r, err := bench.Run(ctx, cfg)
	fmt.Println()
	fmt.Print(bench.Table(r, when, bench.Machine()))
	if len(r.Scaling()) > 0 {
		fmt.Println()
		fmt.Print(bench.ScalingTable(r))
	}
	if *doc != "" && len(r.Metrics()) > 0 && cfg.Only == nil {
		if werr := bench.WriteDoc(*doc, r, when, *load); werr != nil {
			log.Error("write doc", "err", werr)
			return 1
		}
	}
	if err != nil {
		log.Error("bench", "err", err)
		return 1
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
