package backup

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
)

// S3Config names a bucket on MinIO or any S3 service.
type S3Config struct {
	Endpoint  string // http(s)://host[:port]
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
}

// objectInfo is what is kept of an object besides its bytes.
type objectInfo struct {
	ContentType string
	Metadata    map[string]string
}

// bucket is a blob store seen object by object, keys and metadata
// included: the blob package's stores hide both, on purpose.
type bucket interface {
	// Walk calls fn with every key, in lexical order.
	Walk(ctx context.Context, fn func(key string) error) error
	Open(ctx context.Context, key string) (io.ReadCloser, objectInfo, error)
	Put(ctx context.Context, key string, r io.Reader, size int64, info objectInfo) error
	// Empty reports whether the store holds no objects.
	Empty(ctx context.Context) (bool, error)
	// Name says where the objects are, for logs and errors.
	Name() string
	// Kind is "s3" or "local".
	Kind() string
	Close() error
}

// openBucket opens the configured store; create makes a missing S3 bucket
// or local directory (restore), else a missing one is an error (backup).
func openBucket(ctx context.Context, cfg Config, create bool, log *slog.Logger) (bucket, error) {
	if cfg.S3.Endpoint == "" {
		if cfg.BlobDir == "" {
			return nil, fail(CodeInvalidConfig, "no blob store: give an S3 endpoint or a data directory")
		}
		return openDir(cfg.BlobDir, create)
	}
	return openS3(ctx, cfg.S3, create, log)
}

type s3Bucket struct {
	c      *minio.Client
	bucket string
}

func openS3(ctx context.Context, cfg S3Config, create bool, log *slog.Logger) (*s3Bucket, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fail(CodeInvalidConfig, "S3 endpoint %q: want http(s)://host[:port]", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, fail(CodeInvalidConfig, "S3 bucket is required")
	}
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: u.Scheme == "https", Region: cfg.Region})
	if err != nil {
		return nil, fail(CodeInvalidConfig, "S3 client: %w", err)
	}
	b := &s3Bucket{c: c, bucket: cfg.Bucket}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fail(CodeTargetUnavailable, "S3 bucket %s: %w", cfg.Bucket, err)
	}
	switch {
	case ok:
	case !create:
		return nil, fail(CodeSourceUnavailable, "S3 bucket %s does not exist", cfg.Bucket)
	default:
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			return nil, fail(CodeTargetUnavailable, "create S3 bucket %s: %w", cfg.Bucket, err)
		}
		log.InfoContext(ctx, "restore: created bucket", "bucket", cfg.Bucket)
	}
	return b, nil
}

func (b *s3Bucket) Name() string { return "s3://" + b.bucket }

func (b *s3Bucket) Kind() string { return "s3" }

func (b *s3Bucket) Close() error { return nil }

func (b *s3Bucket) Walk(ctx context.Context, fn func(string) error) error {
	ctx, cancel := context.WithCancel(ctx) // stops the listing when fn fails
	defer cancel()
	for o := range b.c.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("list %s: %w", b.Name(), o.Err)
		}
		if err := fn(o.Key); err != nil {
			return err
		}
	}
	return nil
}

func (b *s3Bucket) Open(ctx context.Context, key string) (io.ReadCloser, objectInfo, error) {
	obj, err := b.c.GetObject(ctx, b.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, objectInfo{}, err
	}
	st, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		return nil, objectInfo{}, err
	}
	return obj, objectInfo{ContentType: st.ContentType, Metadata: st.UserMetadata}, nil
}

func (b *s3Bucket) Put(ctx context.Context, key string, r io.Reader, size int64, info objectInfo) error {
	_, err := b.c.PutObject(ctx, b.bucket, key, r, size, minio.PutObjectOptions{ContentType: info.ContentType, UserMetadata: info.Metadata})
	return err
}

func (b *s3Bucket) Empty(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for o := range b.c.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Recursive: true, MaxKeys: 1}) {
		if o.Err != nil {
			return false, o.Err
		}
		return false, nil
	}
	return true, nil
}

// dirBucket is the local blob store's directory. Writes go through
// blob.Local, so restored objects land exactly as the server writes them.
type dirBucket struct {
	dir   string
	local *blob.Local
}

func openDir(dir string, create bool) (*dirBucket, error) {
	if _, err := os.Stat(dir); err != nil && (!create || !errors.Is(err, fs.ErrNotExist)) {
		return nil, &Error{Code: CodeSourceUnavailable, Err: err}
	}
	// The signing secret only signs URLs, which a backup never hands out.
	secret := make([]byte, blob.MinSecretLen)
	_, _ = rand.Read(secret)
	l, err := blob.NewLocal(dir, secret, "", time.Now)
	if err != nil {
		return nil, &Error{Code: CodeTargetUnavailable, Err: err}
	}
	return &dirBucket{dir: dir, local: l}, nil
}

func (d *dirBucket) Name() string { return d.dir }

func (d *dirBucket) Kind() string { return "local" }

// Walk visits the files under the directory, skipping the store's own
// dot-directories (partial writes), which no key can name.
func (d *dirBucket) Walk(ctx context.Context, fn func(string) error) error {
	return filepath.WalkDir(d.dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != d.dir && strings.HasPrefix(e.Name(), ".") {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(d.dir, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if err := blob.CheckKey(key); err != nil {
			return err
		}
		return fn(key)
	})
}

func (d *dirBucket) Open(ctx context.Context, key string) (io.ReadCloser, objectInfo, error) {
	rc, err := d.local.Get(ctx, key)
	return rc, objectInfo{}, err
}

func (d *dirBucket) Put(ctx context.Context, key string, r io.Reader, size int64, _ objectInfo) error {
	return d.local.Put(ctx, key, r, size, "")
}

func (d *dirBucket) Empty(ctx context.Context) (bool, error) {
	empty := true
	err := d.Walk(ctx, func(string) error {
		empty = false
		return fs.SkipAll // WalkDir stops and returns nil
	})
	return empty, err
}

func (d *dirBucket) Close() error { return d.local.Close() }
