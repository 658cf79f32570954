package e2e_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
	"github.com/ytcaption/ytcaption/test/testenv"
)

// productionEnv configures `ytcaption server` for PostgreSQL, Redis and
// MinIO, each isolated to the test.
func productionEnv(t testing.TB) []string {
	t.Helper()
	redisURL, prefix := testenv.Redis(t)
	s3 := testenv.MinIO(t)
	return []string{
		"YTCAPTION_DATABASE_URL=" + testenv.Postgres(t),
		"YTCAPTION_REDIS_URL=" + redisURL,
		"YTCAPTION_REDIS_PREFIX=" + prefix,
		"YTCAPTION_S3_ENDPOINT=" + s3.Endpoint,
		"YTCAPTION_S3_BUCKET=" + s3.Bucket,
		"YTCAPTION_S3_ACCESS_KEY=" + s3.AccessKey,
		"YTCAPTION_S3_SECRET_KEY=" + s3.SecretKey,
	}
}

// TestServerMode runs `ytcaption server` on PostgreSQL + Redis + MinIO with
// a separate agent process, enrolled through the CLI, and captions a URL
// and an upload; then a submitter key made with `keys create` works within
// its own tenant only.
func TestServerMode(t *testing.T) {
	t.Parallel()
	wav := media.Speech(t, speechText)
	mp4 := media.MP4(t, wav)
	clips := serveClips(t, map[string]string{"talk.mp4": mp4})
	s := startServer(t, productionEnv(t))
	a := s.startAgent(t, s.enroll(t), "agent-1")
	s.waitAgents(t, 1, a)
	ctx := context.Background()

	var urlJob api.Job
	t.Run("url", func(t *testing.T) {
		j, err := s.admin.SubmitJob(ctx, api.JobRequest{URL: clips["talk.mp4"].url, Language: "en"}, "")
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		j = waitJob(t, s.admin, j.ID)
		mustSucceed(t, j)
		wer := checkJobCaptions(t, s.admin, j, speechText, clips["talk.mp4"].duration)
		t.Logf("url: WER %.3f, %d words, attempts %d, timings %v", wer, j.Result.Words, j.Attempts, j.Result.Timings)
		if !a.didSoon("task completed", j.ID) {
			t.Errorf("agent log has no completion of job %s", j.ID)
		}
		urlJob = j
	})

	t.Run("upload", func(t *testing.T) {
		f, err := os.Open(mp4)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		j, err := s.admin.UploadJob(ctx, api.JobRequest{Language: "en", Cache: noCache()}, "lecture.mp4", f, "")
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
		if j.Source.Filename != "lecture.mp4" {
			t.Errorf("upload job source %+v, want filename lecture.mp4", j.Source)
		}
		j = waitJob(t, s.admin, j.ID)
		mustSucceed(t, j)
		wer := checkJobCaptions(t, s.admin, j, speechText, clips["talk.mp4"].duration)
		t.Logf("upload: WER %.3f, %d words, attempts %d", wer, j.Result.Words, j.Attempts)
	})

	t.Run("submitter key", func(t *testing.T) {
		if urlJob.ID == "" {
			t.Skip("no admin job to hide")
		}
		key := singleLine(t, "keys create", runCLI(t, s.cliEnv(), testenv.Binary(t, "ytcaption"),
			"keys", "create", "--tenant", "t1", "--role", "submitter"))
		c := api.NewClient(s.url, key, nil)
		j, err := c.SubmitJob(ctx, api.JobRequest{URL: clips["talk.mp4"].url + "?tenant=t1", Language: "en"}, "")
		if err != nil {
			t.Fatalf("submit with the submitter key: %v", err)
		}
		if j.Tenant != "t1" {
			t.Errorf("job tenant %q, want t1", j.Tenant)
		}
		mustSucceed(t, waitJob(t, c, j.ID))
		_, err = c.GetJob(ctx, urlJob.ID)
		var se *api.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusNotFound || se.Err.Code != api.CodeNotFound {
			t.Errorf("tenant t1 reading the admin's job: err %v, want 404 %s", err, api.CodeNotFound)
		}
		l, err := c.ListJobs(ctx, "", 50, "")
		if err != nil {
			t.Fatalf("list jobs as t1: %v", err)
		}
		if len(l.Jobs) != 1 || l.Jobs[0].ID != j.ID {
			t.Errorf("tenant t1 lists %d jobs, want only its own %s", len(l.Jobs), j.ID)
		}
	})
	emptyDir(t, "agent work dir", a.workDir)
}
