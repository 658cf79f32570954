package cli_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ytcaption/ytcaption/agent/worker"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/backup"
	"github.com/ytcaption/ytcaption/control-plane/server"
	"github.com/ytcaption/ytcaption/test/media"
	"github.com/ytcaption/ytcaption/test/testenv"
)

const drillText = "the quick brown fox jumps over the lazy dog"

// drillState is one control plane's state: how a server opens it, how the
// CLI names it, and how to destroy it.
type drillState struct {
	cfg     server.Config     // DatabaseURL, DataDir, S3
	env     map[string]string // YTCAPTION_* for backup and restore
	destroy func(t *testing.T)
}

// drillBackend makes fresh, empty states of one kind.
type drillBackend struct {
	name  string
	fresh func(t *testing.T) drillState
}

func postgresDrill() drillBackend {
	return drillBackend{"postgres+minio", func(t *testing.T) drillState {
		dbURL, dropDB := freshDatabase(t)
		s3 := testenv.MinIO(t)
		dir := t.TempDir()
		return drillState{
			cfg: server.Config{DataDir: dir, DatabaseURL: dbURL,
				S3: server.S3Config{Endpoint: s3.Endpoint, Bucket: s3.Bucket, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey}},
			env: map[string]string{"YTCAPTION_DATABASE_URL": dbURL, "YTCAPTION_DATA_DIR": dir, "YTCAPTION_S3_ENDPOINT": s3.Endpoint,
				"YTCAPTION_S3_BUCKET": s3.Bucket, "YTCAPTION_S3_ACCESS_KEY": s3.AccessKey, "YTCAPTION_S3_SECRET_KEY": s3.SecretKey},
			destroy: func(t *testing.T) { dropDB(); dropBucket(t, s3) },
		}
	}}
}

func sqliteDrill() drillBackend {
	return drillBackend{"sqlite+local", func(t *testing.T) drillState {
		dir := filepath.Join(t.TempDir(), "data")
		return drillState{
			cfg: server.Config{DataDir: dir},
			env: map[string]string{"YTCAPTION_DATA_DIR": dir},
			destroy: func(t *testing.T) {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
			},
		}
	}}
}

// freshDatabase creates a database with a unique name and returns its URL
// and a function that drops it (also run when the test ends).
func freshDatabase(t *testing.T) (string, func()) {
	t.Helper()
	admin := testenv.PostgresURL()
	name := testenv.Name("ytct_")
	do := func(sql string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Fatalf("connect PostgreSQL: %v (run test/env/bootstrap.sh, or make test-env)", err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	do("CREATE DATABASE " + name)
	drop := func() { do("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") }
	t.Cleanup(drop)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String(), drop
}

func dropBucket(t *testing.T, s3 testenv.S3) {
	t.Helper()
	u, _ := url.Parse(s3.Endpoint)
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, ""), Secure: u.Scheme == "https"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for o := range c.ListObjects(ctx, s3.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if err := c.RemoveObject(ctx, s3.Bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RemoveBucket(ctx, s3.Bucket); err != nil {
		t.Fatal(err)
	}
}

// drillServer is a control plane on a state, stopped by stop (or when the
// test ends).
type drillServer struct {
	url   string
	admin *api.Client
	stop  func()
}

func startDrillServer(t *testing.T, st drillState) *drillServer {
	t.Helper()
	cfg := st.cfg
	cfg.Listen, cfg.AdminKey, cfg.AllowPrivateSources = "127.0.0.1:0", adminKey, true
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return &drillServer{url: srv.URL(), admin: api.NewClient(srv.URL(), adminKey, nil), stop: stop}
}

// startDrillAgent runs a real agent (pocketsphinx) with labels until the
// returned stop.
func startDrillAgent(t *testing.T, s *drillServer, labels map[string]string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e, err := s.admin.CreateEnrollment(ctx, api.EnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(ctx, worker.Config{Server: s.url, Token: e.Token, Name: "drill", Engine: "pocketsphinx", Labels: labels, AllowPrivateSources: true,
		WorkDir: t.TempDir(), Grace: time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatalf("agent: %v", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// webhookSink records the deliveries a receiver gets.
type webhookSink struct {
	url  string
	got  chan delivery
	stop func()
}

type delivery struct {
	sig  string
	body []byte
}

func startWebhookSink(t *testing.T) *webhookSink {
	s := &webhookSink{got: make(chan delivery, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case s.got <- delivery{sig: r.Header.Get(api.SignatureHeader), body: b}:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/hook"
	return s
}

// waitDelivery waits for the signed delivery of a job's final event.
func (s *webhookSink) waitDelivery(t *testing.T, jobID string, secret string) {
	t.Helper()
	timeout := time.After(3 * time.Minute)
	for {
		select {
		case d := <-s.got:
			if !bytes.Contains(d.body, []byte(jobID)) {
				continue
			}
			if err := api.VerifySignature(d.sig, d.body, []string{secret}, 0, time.Now()); err != nil {
				t.Fatalf("the delivery for %s is not signed with the tenant's secret from before the backup: %v", jobID, err)
			}
			return
		case <-timeout:
			t.Fatalf("no webhook delivery for job %s", jobID)
		}
	}
}

var captionFormats = []string{"srt", "vtt", "json", "txt"}

func captions(t *testing.T, c *api.Client, id string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range captionFormats {
		var b bytes.Buffer
		if err := c.Captions(context.Background(), id, api.CaptionOptions{Format: f}, &b); err != nil {
			t.Fatalf("captions %s of %s: %v", f, id, err)
		}
		out[f] = b.Bytes()
	}
	return out
}

func waitJob(t *testing.T, c *api.Client, id string) api.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	j, err := c.WaitJob(ctx, id, 200*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("wait for job %s: %v", id, err)
	}
	if j.Status != api.JobSucceeded {
		t.Fatalf("job %s ended %s: %+v", id, j.Status, j.Error)
	}
	return j
}

// uploadSpeech submits wav as an upload; the result cache is off, so every
// job is real work for an agent.
func uploadSpeech(t *testing.T, c *api.Client, wav string) api.Job {
	t.Helper()
	f, err := os.Open(wav)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	j, err := c.UploadJob(context.Background(), api.JobRequest{Language: "en", Captions: "asr-only", Cache: new(false)}, "speech.wav", f, "")
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return j
}

// TestRestoreDrill backs up a running control plane that holds finished
// jobs, API keys, a webhook endpoint and queued work; destroys its
// database and blob store; restores into new ones with `ytcaption
// restore`; and checks that a server on them serves the same captions
// byte for byte, accepts the same keys, signs webhooks with the same
// secret, and runs the queued work to success on an agent.
func TestRestoreDrill(t *testing.T) {
	for _, tool := range []string{"flite", "pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: run test/env/bootstrap.sh (or make test-env) first", tool)
		}
	}
	for _, b := range []drillBackend{postgresDrill(), sqliteDrill()} {
		t.Run(b.name, func(t *testing.T) { restoreDrill(t, b) })
	}
}

func restoreDrill(t *testing.T, b drillBackend) {
	ctx := context.Background()
	step := func(name string, start time.Time) {
		t.Logf("drill %-14s %-34s %s", b.name, name, time.Since(start).Round(time.Millisecond))
	}
	wav := media.Speech(t, drillText)
	hooks := startWebhookSink(t)

	start := time.Now()
	src := b.fresh(t)
	s := startDrillServer(t, src)
	if err := s.admin.Do(ctx, http.MethodPost, api.PathWebhookEndpoints, api.WebhookEndpointRequest{URL: hooks.url}, nil, nil); err != nil {
		t.Fatalf("webhook endpoint: %v", err)
	}
	key, err := s.admin.CreateKey(ctx, api.KeyRequest{Tenant: "default", Role: "submitter", Name: "drill"})
	if err != nil {
		t.Fatal(err)
	}
	user := api.NewClient(s.url, key.Secret, nil)
	var secret api.WebhookSecret
	if err := s.admin.Do(ctx, http.MethodGet, api.PathWebhookSecret, nil, &secret, nil); err != nil {
		t.Fatal(err)
	}
	var endpoints api.WebhookEndpointList
	if err := s.admin.Do(ctx, http.MethodGet, api.PathWebhookEndpoints, nil, &endpoints, nil); err != nil || len(endpoints.Endpoints) != 1 {
		t.Fatalf("webhook endpoints: %+v %v", endpoints, err)
	}
	startDrillAgent(t, s, nil)
	done := uploadSpeech(t, user, wav)
	waitJob(t, user, done.ID)
	hooks.waitDelivery(t, done.ID, secret.Secret)
	want := captions(t, user, done.ID)
	// Queued work: a job no agent of the source can run, waiting for
	// capacity that only comes after the restore.
	// (Uploads carry no labels, so this one comes by URL.)
	pool := map[string]string{"pool": "restored"}
	mediaDir := t.TempDir()
	media.Copy(t, wav, mediaDir, "speech.wav")
	queued, err := user.SubmitJob(ctx, api.JobRequest{URL: media.Serve(t, mediaDir) + "/speech.wav", Language: "en",
		Captions: "asr-only", Cache: new(false), Labels: pool}, "")
	if err != nil {
		t.Fatal(err)
	}
	if j, err := user.GetJob(ctx, queued.ID); err != nil || j.Status != api.JobQueued {
		t.Fatalf("the job to be restored queued: %+v %v", j, err)
	}
	step("set up (one job run)", start)

	// Online backup: the server keeps running.
	start = time.Now()
	dir := filepath.Join(t.TempDir(), "backup")
	if out, stderr, code := run(t, src.env, "backup", dir); code != 0 {
		t.Fatalf("backup: exit %d: %s %s", code, out, stderr)
	}
	step("backup", start)
	if m, err := backup.ReadManifest(dir); err != nil || m.Objects.Referenced == 0 || m.Objects.MissingCount != 0 {
		t.Fatalf("manifest: the snapshot's references %d, missing %d %v (%v)", m.Objects.Referenced, m.Objects.MissingCount, m.Objects.Missing, err)
	}
	start = time.Now()
	if out, stderr, code := run(t, nil, "backup", "verify", dir); code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("backup verify: exit %d: %s %s", code, out, stderr)
	}
	step("verify", start)

	start = time.Now()
	s.stop()
	src.destroy(t)
	step("destroy", start)

	start = time.Now()
	dst := b.fresh(t)
	if out, stderr, code := run(t, dst.env, "restore", dir); code != 0 {
		t.Fatalf("restore: exit %d: %s %s", code, out, stderr)
	}
	step("restore", start)

	// A second restore finds the targets in use and refuses.
	if _, stderr, code := run(t, dst.env, "restore", dir); code == 0 || !strings.Contains(stderr, "target_not_empty") {
		t.Fatalf("a restore into a restored target: exit %d, %s", code, stderr)
	}

	start = time.Now()
	r := startDrillServer(t, dst)
	step("start server", start)
	user = api.NewClient(r.url, key.Secret, nil)
	got := captions(t, user, done.ID)
	for _, f := range captionFormats {
		if !bytes.Equal(got[f], want[f]) {
			t.Errorf("%s captions differ after restore:\n%s\nwant\n%s", f, got[f], want[f])
		}
	}
	var secretAfter api.WebhookSecret
	if err := r.admin.Do(ctx, http.MethodGet, api.PathWebhookSecret, nil, &secretAfter, nil); err != nil || secretAfter.Secret != secret.Secret {
		t.Errorf("webhook secret after restore: %v (changed: %v)", err, secretAfter.Secret != secret.Secret)
	}
	var endpointsAfter api.WebhookEndpointList
	if err := r.admin.Do(ctx, http.MethodGet, api.PathWebhookEndpoints, nil, &endpointsAfter, nil); err != nil ||
		len(endpointsAfter.Endpoints) != 1 || endpointsAfter.Endpoints[0].URL != hooks.url {
		t.Errorf("webhook endpoints after restore: %+v %v", endpointsAfter, err)
	}
	if j, err := user.GetJob(ctx, queued.ID); err != nil || j.Status != api.JobQueued {
		t.Fatalf("the queued job after restore: %+v %v", j, err)
	}

	start = time.Now()
	startDrillAgent(t, r, pool)
	waitJob(t, user, queued.ID)
	hooks.waitDelivery(t, queued.ID, secret.Secret)
	if c := captions(t, user, queued.ID); len(c["txt"]) == 0 {
		t.Error("the queued job has no captions")
	}
	step("queued job runs", start)
}
