// Package testenv gives each test its own isolated slice of the shared test
// services that test/env/bootstrap.sh starts: a fresh PostgreSQL schema, a
// Redis key prefix, and an S3 bucket on MinIO. Settings come from the
// YTCAPTION_TEST_* environment (see .cache/test.env) with loopback defaults.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"
)

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Name returns a short random lower-case name with the given prefix.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

const hint = " (run test/env/bootstrap.sh, or `make test`, to start the test services)"

// PostgresURL is the admin connection URL of the test PostgreSQL server.
func PostgresURL() string {
	return env("YTCAPTION_TEST_POSTGRES_URL", "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable")
}

// Postgres creates a fresh schema, drops it when the test ends, and returns a
// database URL whose search_path is that schema.
func Postgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		t.Fatalf("testenv: connect PostgreSQL: %v%s", err, hint)
	}
	defer conn.Close(ctx)
	schema := Name("t_")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testenv: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, PostgresURL())
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(PostgresURL())
	if err != nil {
		t.Fatalf("testenv: bad YTCAPTION_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Redis returns the test Redis URL and a key prefix unique to this test; keys
// under the prefix are deleted when the test ends.
func Redis(t testing.TB) (redisURL, prefix string) {
	t.Helper()
	redisURL = env("YTCAPTION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("testenv: bad YTCAPTION_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		t.Fatalf("testenv: ping Redis: %v%s", err, hint)
	}
	prefix = Name("ytct:") + ":"
	t.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return redisURL, prefix
}

// S3 is a MinIO endpoint with a bucket name unique to one test.
type S3 struct {
	Endpoint  string // URL, e.g. http://127.0.0.1:19000
	AccessKey string
	SecretKey string
	Bucket    string // not created: stores create missing buckets
}

// MinIO returns the test MinIO settings with a fresh bucket name; the bucket
// and its objects are removed when the test ends.
func MinIO(t testing.TB) S3 {
	t.Helper()
	s := S3{
		Endpoint:  env("YTCAPTION_TEST_S3_ENDPOINT", "http://127.0.0.1:19000"),
		AccessKey: env("YTCAPTION_TEST_S3_ACCESS_KEY", "ytcaption"),
		SecretKey: env("YTCAPTION_TEST_S3_SECRET_KEY", "ytcaption-test-secret"),
		Bucket:    strings.ReplaceAll(Name("ytct-"), "_", "-"),
	}
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatalf("testenv: bad YTCAPTION_TEST_S3_ENDPOINT: %v", err)
	}
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Secure: u.Scheme == "https"})
	if err != nil {
		t.Fatalf("testenv: minio client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.ListBuckets(ctx); err != nil {
		t.Fatalf("testenv: reach MinIO at %s: %v%s", s.Endpoint, err, hint)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if ok, _ := c.BucketExists(ctx, s.Bucket); !ok {
			return
		}
		for o := range c.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err == nil {
				_ = c.RemoveObject(ctx, s.Bucket, o.Key, minio.RemoveObjectOptions{})
			}
		}
		_ = c.RemoveBucket(ctx, s.Bucket)
	})
	return s
}
