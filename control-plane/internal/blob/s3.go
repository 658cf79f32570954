package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// S3Config configures an S3 store.
type S3Config struct {
	// Endpoint is the service URL, e.g. http://127.0.0.1:9000; the scheme
	// decides TLS. It may not carry a path.
	Endpoint string
	// PublicEndpoint, when set, is the URL presigned URLs use, for agents that
	// reach the service under another address than the control plane does.
	PublicEndpoint string
	Bucket         string
	AccessKey      string
	SecretKey      string
	// Region defaults to the bucket's location, or us-east-1.
	Region string
	// Prefix is prepended to every key ("a/b" and "a/b/" are the same).
	Prefix string
}

// S3 is a store on MinIO or any S3-compatible service.
type S3 struct {
	client  *minio.Client
	presign *minio.Client // may be client itself
	bucket  string
	prefix  string
	log     *slog.Logger
}

// unknownSizePart bounds the memory minio-go buffers when a Put does not know
// its size; left at zero it sizes parts for a 5 TiB object (hundreds of MiB).
const unknownSizePart = 16 << 20

// NewS3 connects to the service and creates the bucket when it is missing.
func NewS3(ctx context.Context, cfg S3Config, logger *slog.Logger) (*S3, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("blob: s3: bucket is required")
	}
	client, err := newMinio(cfg.Endpoint, cfg)
	if err != nil {
		return nil, err
	}
	s := &S3{client: client, presign: client, bucket: cfg.Bucket, log: logger}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		if err := CheckKey(p); err != nil {
			return nil, fmt.Errorf("blob: s3: prefix: %w", err)
		}
		s.prefix = p + "/"
	}
	if err := s.ensureBucket(ctx, cfg.Region); err != nil {
		return nil, err
	}
	if cfg.PublicEndpoint != "" {
		// Presigning needs the bucket's region; give it explicitly so the
		// presign client never calls out to an address it may not reach.
		region := cfg.Region
		if region == "" {
			region, err = client.GetBucketLocation(ctx, cfg.Bucket)
			if err != nil {
				return nil, fmt.Errorf("blob: s3: bucket %s location: %w", cfg.Bucket, err)
			}
		}
		if region == "" {
			region = "us-east-1"
		}
		pc := cfg
		pc.Region = region
		if s.presign, err = newMinio(cfg.PublicEndpoint, pc); err != nil {
			return nil, fmt.Errorf("blob: s3: public endpoint: %w", err)
		}
	}
	return s, nil
}

func newMinio(endpoint string, cfg S3Config) (*minio.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("blob: s3: endpoint %q: %w", endpoint, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("blob: s3: endpoint %q: want http(s)://host[:port]", endpoint)
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("blob: s3: endpoint %q: must not have a path or query", endpoint)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: u.Scheme == "https",
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: s3: client for %s: %w", endpoint, err)
	}
	return c, nil
}

func (s *S3) ensureBucket(ctx context.Context, region string) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("blob: s3: check bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	if err != nil {
		// Another replica may have created it in the meantime.
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			if ok, _ := s.client.BucketExists(ctx, s.bucket); ok {
				return nil
			}
		}
		return fmt.Errorf("blob: s3: create bucket %s: %w", s.bucket, err)
	}
	s.log.InfoContext(ctx, "created bucket", "bucket", s.bucket)
	return nil
}

func (s *S3) object(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

// Put stores size bytes from r under key; size -1 means unknown.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	opts := minio.PutObjectOptions{ContentType: contentType}
	if size < 0 {
		opts.PartSize = unknownSizePart
	}
	info, err := s.client.PutObject(ctx, s.bucket, name, r, size, opts)
	if err != nil {
		return fmt.Errorf("blob: s3: put %s: %w", key, err)
	}
	if size >= 0 && info.Size != size {
		return fmt.Errorf("blob: s3: put %s: stored %d bytes, want %d: %w", key, info.Size, size, ErrSizeMismatch)
	}
	return nil
}

// Get opens the object under key; a missing object is ErrNotFound.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("blob: s3: get %s: %w", key, err)
	}
	// GetObject is lazy; Stat makes a missing object fail here, not on Read.
	if _, err := obj.Stat(); err != nil {
		_ = obj.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, fmt.Errorf("blob: s3: get %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("blob: s3: get %s: %w", key, err)
	}
	return obj, nil
}

// Delete removes the object under key; deleting a missing object is not an
// error.
func (s *S3) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("blob: s3: delete %s: %w", key, err)
	}
	return nil
}

// PresignPut returns a URL that accepts one HTTP PUT of the object's body.
func (s *S3) PresignPut(ctx context.Context, key string, ttl time.Duration) (api.Presigned, error) {
	return s.presignURL(ctx, http.MethodPut, key, ttl)
}

// PresignGet returns a URL from which the object can be read with HTTP GET.
func (s *S3) PresignGet(ctx context.Context, key string, ttl time.Duration) (api.Presigned, error) {
	return s.presignURL(ctx, http.MethodGet, key, ttl)
}

func (s *S3) presignURL(ctx context.Context, method, key string, ttl time.Duration) (api.Presigned, error) {
	name, err := s.object(key)
	if err != nil {
		return api.Presigned{}, err
	}
	if err := checkTTL(ttl); err != nil {
		return api.Presigned{}, err
	}
	// minio-go signs with its own clock; taking ours before the call makes
	// the reported expiry a lower bound of the real one.
	now := time.Now()
	var u *url.URL
	if method == http.MethodPut {
		u, err = s.presign.PresignedPutObject(ctx, s.bucket, name, ttl)
	} else {
		u, err = s.presign.PresignedGetObject(ctx, s.bucket, name, ttl, nil)
	}
	if err != nil {
		return api.Presigned{}, fmt.Errorf("blob: s3: presign %s %s: %w", method, key, err)
	}
	return api.Presigned{
		Method:  method,
		URL:     u.String(),
		Key:     key,
		Expires: now.Add(ttl).UTC().Truncate(time.Second),
	}, nil
}

// Ping checks that the bucket is reachable.
func (s *S3) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("blob: s3: ping: %w", err)
	}
	if !ok {
		return fmt.Errorf("blob: s3: ping: bucket %s is gone", s.bucket)
	}
	return nil
}
