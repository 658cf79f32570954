package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/subtitle"
)

// TestJobLifecycle drives one job through the whole API on every backend:
// submit, lease, heartbeat, upload through the presigned URL, complete, and
// every caption format.
func TestJobLifecycle(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			r := startReplica(t, b.cfg(t))
			ctx := context.Background()
			ag := enrollAgent(t, r, "sim-1", api.Capabilities{})

			j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/v.mp4", Priority: intp(7)}, "")
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			if j.Status != api.JobQueued || j.Priority != 7 || j.Language != "auto" || !j.Cache || j.Captions != api.CaptionsPreferExisting {
				t.Fatalf("submitted job: %+v", j)
			}
			l := ag.leaseOne(5 * time.Second)
			if l.JobID != j.ID || l.Attempt != 1 || l.Spec.URL != "https://example.com/v.mp4" || l.Upload.URL == "" {
				t.Fatalf("lease: %+v", l)
			}
			hb, err := ag.c.Heartbeat(ctx, l.TaskID, api.HeartbeatRequest{Token: l.Token, Stage: "transcribe", Progress: 0.5})
			if err != nil || hb.Cancel || !hb.Deadline.After(time.Now()) {
				t.Fatalf("heartbeat: %+v %v", hb, err)
			}
			got, _ := r.admin.GetJob(ctx, j.ID)
			if got.Status != api.JobRunning || got.Stage != "transcribe" || got.Progress != 0.5 || got.Attempts != 1 {
				t.Fatalf("running job: %+v", got)
			}
			// Captions are not there yet.
			err = r.admin.Captions(ctx, j.ID, api.CaptionOptions{Format: "srt"}, io.Discard)
			wantErr(t, err, http.StatusConflict, api.CodeConflict)

			if err := ag.complete(l); err != nil {
				t.Fatalf("complete: %v", err)
			}
			done := waitStatus(t, r.admin, j.ID, api.JobSucceeded)
			if done.FinishedAt == nil || done.Result == nil || done.Result.Cached || done.Result.Words != 6 || done.Progress != 1 {
				t.Fatalf("finished job: %+v result %+v", done, done.Result)
			}

			for _, f := range []string{"srt", "vtt", "txt", "json"} {
				var buf bytes.Buffer
				if err := r.admin.Captions(ctx, j.ID, api.CaptionOptions{Format: f, MaxChars: 20, MaxLines: 1}, &buf); err != nil {
					t.Fatalf("captions %s: %v", f, err)
				}
				switch f {
				case "srt":
					cues, err := subtitle.ParseSRT(&buf)
					if err != nil || len(cues) < 2 {
						t.Fatalf("srt: %v %+v", err, cues)
					}
				case "vtt":
					if !strings.HasPrefix(buf.String(), "WEBVTT") {
						t.Fatalf("vtt: %q", buf.String())
					}
				case "txt":
					if !strings.Contains(buf.String(), "Hello world.") {
						t.Fatalf("txt: %q", buf.String())
					}
				case "json":
					var tr api.Transcript
					if err := json.Unmarshal(buf.Bytes(), &tr); err != nil || len(tr.Segments) != 2 || tr.Segments[1].Words[3].Word != "test." {
						t.Fatalf("json: %v %+v", err, tr)
					}
				}
			}
			// Content types.
			resp := rawGet(t, r, "/v1/jobs/"+j.ID+"/captions?format=vtt", adminKey)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/vtt") {
				t.Fatalf("vtt content type %q", ct)
			}

			// A final job cannot be canceled or retried.
			_, err = r.admin.CancelJob(ctx, j.ID)
			wantErr(t, err, http.StatusConflict, api.CodeConflict)
			_, err = r.admin.RetryJob(ctx, j.ID)
			wantErr(t, err, http.StatusConflict, api.CodeConflict)
			// The late complete of a finished task is stale.
			_, err = ag.c.Complete(ctx, l.TaskID, api.CompleteRequest{Token: l.Token, Result: api.TaskResult{Key: l.Upload.Key}})
			wantErr(t, err, http.StatusConflict, api.CodeStaleLease)
		})
	}
}

// loopbackName is a host name that resolves (through /etc/hosts, no DNS
// needed) to a loopback address: this machine's own name on Debian.
func loopbackName(t *testing.T) string {
	t.Helper()
	name, err := os.Hostname()
	if err == nil {
		if addrs, err := net.LookupHost(name); err == nil && len(addrs) > 0 && net.ParseIP(addrs[0]).IsLoopback() {
			return name
		}
	}
	return "localhost.localdomain"
}

func rawGet(t *testing.T, r *replica, path, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.url+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := validatingClient().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func rawDo(t *testing.T, r *replica, method, path, key, contentType string, body []byte, hdr map[string]string) (int, api.ErrorBody, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, r.url+path, bytes.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := validatingClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var eb api.ErrorBody
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &eb)
	return resp.StatusCode, eb, resp.Header
}

// TestAPIErrors checks every error case of the public routes for its status
// and stable code.
func TestAPIErrors(t *testing.T) {
	t.Parallel()
	cfg := sqliteBackend().cfg(t)
	cfg.AllowPrivateSources = false
	cfg.MaxUploadBytes = 1 << 20
	r := startReplica(t, cfg)
	ctx := context.Background()
	viewerKey, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: "acme", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := r.admin.SubmitJob(ctx, api.JobRequest{URL: "https://example.com/a"}, "")
	if err != nil {
		t.Fatal(err)
	}
	// 1.5 MiB: over the JSON limit but under the request limit, so the 413 is
	// answered rather than the connection cut mid-upload.
	big := `{"url":"https://example.com/x","metadata":{"pad":"` + strings.Repeat("x", 3<<19) + `"}}`
	cases := []struct {
		name, method, path, key, ctype, body string
		hdr                                  map[string]string
		status                               int
		code                                 string
	}{
		{"no credential", "GET", "/v1/jobs", "", "", "", nil, 401, api.CodeUnauthorized},
		{"unknown key", "GET", "/v1/jobs", "ytc_nope_nope", "", "", nil, 401, api.CodeUnauthorized},
		{"forged secret", "GET", "/v1/jobs", viewerKey.Secret[:len(viewerKey.Secret)-2] + "xx", "", "", nil, 401, api.CodeUnauthorized},
		{"agent token on public route", "GET", "/v1/jobs", "yta_a_b", "", "", nil, 401, api.CodeUnauthorized},
		{"viewer cannot submit", "POST", "/v1/jobs", viewerKey.Secret, "application/json", `{"url":"https://example.com/a"}`, nil, 403, api.CodeForbidden},
		{"viewer cannot manage keys", "GET", "/v1/keys", viewerKey.Secret, "", "", nil, 403, api.CodeForbidden},
		{"other tenant's job is 404", "GET", "/v1/jobs/" + j.ID, viewerKey.Secret, "", "", nil, 404, api.CodeNotFound},
		{"bad json", "POST", "/v1/jobs", adminKey, "application/json", `{"url":`, nil, 400, api.CodeInvalidRequest},
		{"unknown field", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"https://example.com/a","colour":1}`, nil, 400, api.CodeInvalidRequest},
		{"missing url", "POST", "/v1/jobs", adminKey, "application/json", `{}`, nil, 400, api.CodeInvalidRequest},
		{"ftp url", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"ftp://example.com/a"}`, nil, 400, api.CodeInvalidURL},
		{"not a url", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"hello"}`, nil, 400, api.CodeInvalidURL},
		{"loopback source", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"http://127.0.0.1:8080/a.mp4"}`, nil, 400, api.CodeForbiddenSource},
		{"private source", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"http://10.1.2.3/a.mp4"}`, nil, 400, api.CodeForbiddenSource},
		{"metadata address", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"http://169.254.169.254/latest"}`, nil, 400, api.CodeForbiddenSource},
		{"ipv6 loopback", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"http://[::1]/a"}`, nil, 400, api.CodeForbiddenSource},
		{"localhost name", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"http://localhost/a"}`, nil, 400, api.CodeForbiddenSource},
		{"unspecified address", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"http://0.0.0.0:8080/a"}`, nil, 400, api.CodeForbiddenSource},
		{"decimal loopback", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"http://2130706433/a"}`, nil, 400, api.CodeForbiddenSource},
		{"hex loopback", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"http://0x7f000001/a"}`, nil, 400, api.CodeForbiddenSource},
		{"octal short loopback", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"http://0177.1/a"}`, nil, 400, api.CodeForbiddenSource},
		{"mapped loopback", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"http://[::ffff:127.0.0.1]/a"}`, nil, 400, api.CodeForbiddenSource},
		{"hostname resolving to loopback", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"http://` + loopbackName(t) + `/a"}`, nil, 400, api.CodeForbiddenSource},
		{"priority out of range", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"https://example.com/a","priority":10}`, nil, 400, api.CodeInvalidRequest},
		{"bad task", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"https://example.com/a","task":"dance"}`, nil, 400, api.CodeInvalidRequest},
		{"bad captions", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"https://example.com/a","captions":"maybe"}`, nil, 400, api.CodeInvalidRequest},
		{"bad language", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"https://example.com/a","language":"english!"}`, nil, 400, api.CodeInvalidRequest},
		{"body too large", "POST", "/v1/jobs", adminKey, "application/json", big, nil, 413, api.CodeTooLarge},
		{"unknown job", "GET", "/v1/jobs/00000000-0000-0000-0000-000000000000", adminKey, "", "", nil, 404, api.CodeNotFound},
		{"cancel unknown job", "POST", "/v1/jobs/nope/cancel", adminKey, "", "", nil, 404, api.CodeNotFound},
		{"retry queued job", "POST", "/v1/jobs/" + j.ID + "/retry", adminKey, "", "", nil, 409, api.CodeConflict},
		{"captions not ready", "GET", "/v1/jobs/" + j.ID + "/captions", adminKey, "", "", nil, 409, api.CodeConflict},
		{"captions bad format", "GET", "/v1/jobs/" + j.ID + "/captions?format=doc", adminKey, "", "", nil, 400, api.CodeInvalidRequest},
		{"captions bad max_chars", "GET", "/v1/jobs/" + j.ID + "/captions?max_chars=-1", adminKey, "", "", nil, 400, api.CodeInvalidRequest},
		{"list bad status", "GET", "/v1/jobs?status=lost", adminKey, "", "", nil, 400, api.CodeInvalidRequest},
		{"list bad limit", "GET", "/v1/jobs?limit=0", adminKey, "", "", nil, 400, api.CodeInvalidRequest},
		{"idempotency key too long", "POST", "/v1/jobs", adminKey, "application/json", `{"url":"https://example.com/a"}`, map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}, 400, api.CodeInvalidRequest},
		{"unknown route", "GET", "/v1/nothing", adminKey, "", "", nil, 404, api.CodeNotFound},
		{"register without token", "POST", "/v1/agent/register", "", "application/json", `{"name":"x"}`, nil, 401, api.CodeBadToken},
		{"register unknown token", "POST", "/v1/agent/register", "", "application/json", `{"name":"x","enrollment_token":"yte_a_b"}`, nil, 401, api.CodeBadToken},
		{"lease without agent token", "POST", "/v1/agent/lease", adminKey, "application/json", `{}`, nil, 401, api.CodeUnauthorized},
		{"bad role", "POST", "/v1/keys", adminKey, "application/json", `{"tenant":"x","role":"king"}`, nil, 400, api.CodeInvalidRequest},
		{"bad tenant", "POST", "/v1/keys", adminKey, "application/json", `{"tenant":"Bad Tenant","role":"viewer"}`, nil, 400, api.CodeInvalidRequest},
		{"upload with url too", "POST", "/v1/jobs", adminKey, "", "", nil, 400, api.CodeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, ctype := []byte(tc.body), tc.ctype
			if tc.name == "upload with url too" {
				body, ctype = multipartBody(t, map[string]string{"url": "https://example.com/a"}, "a.wav", []byte("RIFF...."))
			}
			status, eb, hdr := rawDo(t, r, tc.method, tc.path, tc.key, ctype, body, tc.hdr)
			if status != tc.status || eb.Error.Code != tc.code || eb.Error.Message == "" {
				t.Fatalf("got %d %+v, want %d %s", status, eb.Error, tc.status, tc.code)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("error content type %q", ct)
			}
		})
	}
}
