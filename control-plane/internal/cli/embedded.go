package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ytcaption/ytcaption/agent/worker"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
)

// embedded is a control plane plus in-process agents on embedded defaults
// (SQLite and local blobs under one directory, no Redis).
type embedded struct {
	srv      *server.Server
	url      string
	adminKey string
	stop     context.CancelFunc
	wg       sync.WaitGroup
	errs     chan error
}

type embeddedConfig struct {
	Addr     string
	DataDir  string
	Agents   int
	AdminKey string
	Engine   string
}

// startEmbedded starts the stack; Close stops it gracefully.
func startEmbedded(ctx context.Context, cfg embeddedConfig, log *slog.Logger) (*embedded, error) {
	if cfg.AdminKey == "" {
		k, err := devAdminKey(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		cfg.AdminKey = k
	}
	srv, err := server.New(ctx, server.Config{
		Listen: cfg.Addr, DataDir: cfg.DataDir, AdminKey: cfg.AdminKey, AllowPrivateSources: true,
	}, log)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	e := &embedded{srv: srv, url: srv.URL(), adminKey: cfg.AdminKey, stop: stop, errs: make(chan error, cfg.Agents+1)}
	e.wg.Go(func() { e.errs <- srv.Run(runCtx) })

	if cfg.Agents > 0 {
		admin := api.NewClient(e.url, cfg.AdminKey, nil)
		enr, err := admin.CreateEnrollment(ctx, api.EnrollmentRequest{MaxUses: cfg.Agents, TTLSeconds: 300})
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("enroll in-process agents: %w", err)
		}
		for i := range cfg.Agents {
			w, err := worker.New(ctx, worker.Config{
				Server: e.url, Token: enr.Token, Name: fmt.Sprintf("dev-agent-%d", i+1), Engine: cfg.Engine,
				WorkDir: filepath.Join(cfg.DataDir, "work"), Grace: 10 * time.Second, AllowPrivateSources: true,
			}, log.With("agent", i+1))
			if err != nil {
				e.Close()
				return nil, fmt.Errorf("start agent: %w", err)
			}
			e.wg.Go(func() { e.errs <- w.Run(runCtx) })
		}
	}
	return e, nil
}

// Close stops the agents and the control plane.
func (e *embedded) Close() error {
	e.stop()
	e.wg.Wait()
	close(e.errs)
	var errs []error
	for err := range e.errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// devAdminKey keeps the dev stack's admin key in the data directory, so it
// stays the same across restarts.
func devAdminKey(dir string) (string, error) {
	p := filepath.Join(dir, "dev-admin.key")
	if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
		return string(b), nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	k := "ytcdev-" + hex.EncodeToString(b)
	if err := os.WriteFile(p, []byte(k), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	return k, nil
}
