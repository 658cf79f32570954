package redact_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/internal/redact"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	secrets := []string{
		"s3cr3t-Password-value", "yWk2cT1Jq0aJ6-1t6B5uWw8W8ZsV3mJ1n5kQ2yXz0Ab",
		"AKIAEXAMPLESIGNATURE0123", "operator-chosen-admin-key",
	}
	var buf bytes.Buffer
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
		redact.NewRedactor("operator-chosen-admin-key")))
	u, _ := url.Parse("http://127.0.0.1:9000/b/k?X-Amz-Credential=AKIAEXAMPLESIGNATURE0123&X-Amz-Signature=abcdef0123456789")
	log.Info("key ytc_0193abcd_yWk2cT1Jq0aJ6-1t6B5uWw8W8ZsV3mJ1n5kQ2yXz0Ab used",
		"url", u, "dsn", "postgres://app:s3cr3t-Password-value@db:5432/x",
		"err", errors.New("Authorization: Bearer operator-chosen-admin-key"),
		"token", "anything", "s3_secret_key", "x", slog.Group("req", "password", "hunter2"),
		"presigned", "http://h/v1/blobs/k?method=PUT&expires=1&sig=deadbeefdeadbeef")
	log.With("agent_token", "yta_1_aaaaaaaaaaaa").Debug("with")
	out := buf.String()
	for _, s := range append(secrets, "hunter2", "deadbeefdeadbeef", "abcdef0123456789", "aaaaaaaaaaaa") {
		if strings.Contains(out, s) {
			t.Errorf("secret %q leaked: %s", s, out)
		}
	}
	// What is not secret survives, so logs stay useful.
	for _, s := range []string{"ytc_0193abcd_", "db:5432", "method=PUT", "127.0.0.1:9000"} {
		if !strings.Contains(out, s) {
			t.Errorf("%q was lost: %s", s, out)
		}
	}
}

// BenchmarkTaskLog is the line the API logs for every completed task.
func BenchmarkTaskLog(b *testing.B) {
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(io.Discard, nil), redact.NewRedactor("operator-chosen-admin-key")))
	for b.Loop() {
		log.Info("task completed", "task", "0193abcd-7e3f-7000-8000-0123456789ab", "job", "0193abcd-7e3f-7000-8000-0123456789ac",
			"agent", "0193abcd-7e3f-7000-8000-0123456789ad", "job_status", "succeeded")
	}
}
