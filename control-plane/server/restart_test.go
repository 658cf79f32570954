package server_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/agent/worker"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/server"
)

// TestAgentWaitsForControlPlane: an agent started while the control plane is
// down keeps trying to register and joins once it is up, instead of exiting.
func TestAgentWaitsForControlPlane(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := server.Config{Listen: addr, DataDir: dir, DatabaseURL: filepath.Join(dir, "db"), AllowPrivateSources: true}

	first := startReplica(t, cfg)
	e, err := first.admin.CreateEnrollment(context.Background(), api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first.stop()

	ctx, cancel := context.WithCancel(context.Background())
	w, err := worker.New(ctx, worker.Config{Server: "http://" + addr, Token: e.Token, Name: "patient", WorkDir: t.TempDir()}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(1500 * time.Millisecond) // a few refused attempts
	select {
	case err := <-done:
		t.Fatalf("the agent gave up while the control plane was down: %v", err)
	default:
	}

	second := startReplica(t, cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := second.admin.ListAgents(context.Background())
		if err == nil && len(l.Agents) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never registered: %+v %v", l, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
