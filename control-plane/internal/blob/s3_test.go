package blob

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// rawMinio is a client that looks behind the store's back.
func rawMinio(t *testing.T, env testenv.S3) *minio.Client {
	t.Helper()
	u, err := url.Parse(env.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(env.AccessKey, env.SecretKey, ""),
		Secure: u.Scheme == "https",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestS3CreatesMissingBucket(t *testing.T) {
	t.Parallel()
	env := testenv.MinIO(t)
	raw := rawMinio(t, env)
	if ok, err := raw.BucketExists(t.Context(), env.Bucket); err != nil || ok {
		t.Fatalf("bucket exists before the store: %v %v", ok, err)
	}
	newS3(t, env, "")
	if ok, err := raw.BucketExists(t.Context(), env.Bucket); err != nil || !ok {
		t.Fatalf("bucket not created: %v %v", ok, err)
	}
	// A second replica finds the bucket there.
	s := newS3(t, env, "")
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestS3Prefix(t *testing.T) {
	t.Parallel()
	env := testenv.MinIO(t)
	s := newS3(t, env, "/tenant/a/")
	if err := s.Put(t.Context(), "k/v", strings.NewReader("x"), 1, "text/plain"); err != nil {
		t.Fatal(err)
	}
	info, err := rawMinio(t, env).StatObject(t.Context(), env.Bucket, "tenant/a/k/v", minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("object not under the prefix: %v", err)
	}
	if info.ContentType != "text/plain" {
		t.Errorf("content type %q, want text/plain", info.ContentType)
	}
	if got := readAll(t, s, "k/v"); string(got) != "x" {
		t.Errorf("Get = %q", got)
	}
	p, err := s.PresignGet(t.Context(), "k/v", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if p.Key != "k/v" || !strings.Contains(p.URL, "/tenant/a/k/v?") {
		t.Errorf("PresignGet = %+v", p)
	}
	if code, body := do(t, http.MethodGet, p.URL, nil); code != http.StatusOK || string(body) != "x" {
		t.Errorf("presigned GET under prefix: %d %q", code, body)
	}
}

func TestS3PublicEndpoint(t *testing.T) {
	t.Parallel()
	env := testenv.MinIO(t)
	u, err := url.Parse(env.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "127.0.0.1" {
		t.Skip("needs MinIO on 127.0.0.1 to reach it again as localhost")
	}
	public := u.Scheme + "://localhost:" + u.Port()
	s, err := NewS3(t.Context(), S3Config{
		Endpoint:       env.Endpoint,
		PublicEndpoint: public,
		Bucket:         env.Bucket,
		AccessKey:      env.AccessKey,
		SecretKey:      env.SecretKey,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	put, err := s.PresignPut(t.Context(), "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(put.URL, public+"/") {
		t.Fatalf("presigned URL %s does not use the public endpoint %s", put.URL, public)
	}
	if code, msg := do(t, http.MethodPut, put.URL, []byte("via public")); code != http.StatusOK {
		t.Fatalf("PUT via public endpoint: %d %s", code, msg)
	}
	if got := readAll(t, s, "k"); string(got) != "via public" {
		t.Errorf("Get = %q", got)
	}
}

// MinIO signs with the real clock, so the only way to an expired URL is to
// let a short one run out.
func TestS3ExpiredURLRefused(t *testing.T) {
	t.Parallel()
	s := newS3(t, testenv.MinIO(t), "")
	if err := s.Put(t.Context(), "k", strings.NewReader("x"), 1, ""); err != nil {
		t.Fatal(err)
	}
	get, err := s.PresignGet(t.Context(), "k", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	put, err := s.PresignPut(t.Context(), "k", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(get.Expires.Add(2 * time.Second)))
	if code, msg := do(t, http.MethodGet, get.URL, nil); code != http.StatusForbidden {
		t.Errorf("expired GET: %d %s", code, msg)
	}
	if code, msg := do(t, http.MethodPut, put.URL, []byte("late")); code != http.StatusForbidden {
		t.Errorf("expired PUT: %d %s", code, msg)
	}
	if got := readAll(t, s, "k"); string(got) != "x" {
		t.Errorf("object changed by an expired PUT: %q", got)
	}
}

func TestNewS3RejectsBadConfig(t *testing.T) {
	t.Parallel()
	env := testenv.MinIO(t)
	good := S3Config{Endpoint: env.Endpoint, Bucket: env.Bucket, AccessKey: env.AccessKey, SecretKey: env.SecretKey}
	tests := []struct {
		name string
		edit func(*S3Config)
	}{
		{"no bucket", func(c *S3Config) { c.Bucket = "" }},
		{"no scheme", func(c *S3Config) { c.Endpoint = "127.0.0.1:19000" }},
		{"bad scheme", func(c *S3Config) { c.Endpoint = "ftp://127.0.0.1:19000" }},
		{"path", func(c *S3Config) { c.Endpoint = "http://127.0.0.1:19000/minio" }},
		{"bad public endpoint", func(c *S3Config) { c.PublicEndpoint = "localhost:19000" }},
		{"bad prefix", func(c *S3Config) { c.Prefix = "a/../b" }},
		{"wrong secret", func(c *S3Config) { c.SecretKey = "not-the-secret" }},
	}
	for _, tt := range tests {
		cfg := good
		tt.edit(&cfg)
		if _, err := NewS3(t.Context(), cfg, nil); err == nil {
			t.Errorf("%s: NewS3 succeeded", tt.name)
		}
	}
}
