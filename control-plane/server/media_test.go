package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
)

// TestJobMedia: a caption lease carries a presigned PUT for the playback
// copy; once the agent reports it, GET /v1/jobs/{id}/media redirects to it
// (or names it as JSON) on both blob stores, for the job's tenant only. An
// upload job without a copy serves its upload; a URL job without one is 404
// media_unavailable; a cache hit serves the cached job's copy.
func TestJobMedia(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			r := startReplica(t, b.cfg(t))
			ctx := context.Background()
			mk := func(tenant, role string) string {
				k, err := r.admin.CreateKey(ctx, api.KeyRequest{Tenant: tenant, Role: role})
				if err != nil {
					t.Fatal(err)
				}
				return k.Secret
			}
			ownKey, otherKey := mk("acme", "submitter"), mk("zeta", "viewer")
			own := api.NewClient(r.url, ownKey, validatingClient())
			ag := enrollAgent(t, r, "media-agent", api.Capabilities{})
			const video = "https://www.youtube.com/watch?v=M3d1aTe5t01"

			j, err := own.SubmitJob(ctx, api.JobRequest{URL: video, ChunkSeconds: new(float64)}, "")
			if err != nil {
				t.Fatal(err)
			}
			l := ag.leaseOne(5 * time.Second)
			up := l.Spec.MediaUpload
			if up == nil || up.Key != blob.MediaKey(j.ID) || up.Method != http.MethodPut || up.URL == "" {
				t.Fatalf("lease media_upload = %+v", up)
			}
			_, err = own.JobMedia(ctx, j.ID)
			wantErr(t, err, http.StatusNotFound, api.CodeMediaUnavailable)

			ogg := append([]byte("OggS\x00\x02"), bytes.Repeat([]byte("opus"), 500)...)
			put(t, *up, ogg)
			sum := sha256.Sum256(ogg)
			res := ag.upload(l, sampleTranscript())
			res.Media = &api.MediaReport{Key: "jobs/another/media/playback.ogg", Size: int64(len(ogg)), ContentType: api.PlaybackContentType}
			_, err = ag.c.Complete(ctx, l.TaskID, api.CompleteRequest{Token: l.Token, Result: res})
			wantErr(t, err, http.StatusBadRequest, api.CodeInvalidRequest)
			res.Media = &api.MediaReport{Key: up.Key, Size: int64(len(ogg)), SHA256: hex.EncodeToString(sum[:]), ContentType: api.PlaybackContentType}
			if _, err := ag.c.Complete(ctx, l.TaskID, api.CompleteRequest{Token: l.Token, Result: res}); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, own, j.ID, api.JobSucceeded)

			link, err := own.JobMedia(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if link.Kind != api.MediaPlayback || link.ContentType != "audio/ogg" || link.URL == "" ||
				!link.ExpiresAt.After(time.Now()) || link.ExpiresAt.After(time.Now().Add(2*time.Hour)) {
				t.Fatalf("media link = %+v", link)
			}
			if got, ct := fetch(t, link.URL); !bytes.Equal(got, ogg) || ct != "audio/ogg" {
				t.Fatalf("media URL served %d bytes of %q", len(got), ct)
			}
			// A player gets a redirect; Accept: */* is not a request for JSON.
			status, loc := mediaRedirect(t, r, j.ID, ownKey)
			if status != http.StatusFound || loc == "" {
				t.Fatalf("GET media as a player: %d, Location %q", status, loc)
			}
			if got, _ := fetch(t, loc); !bytes.Equal(got, ogg) {
				t.Fatalf("redirect target served %d bytes", len(got))
			}
			// Another tenant's key does not learn the job exists.
			st, eb, _ := rawDo(t, r, http.MethodGet, "/v1/jobs/"+j.ID+"/media?format=json", otherKey, "", nil, nil)
			if st != http.StatusNotFound || eb.Error.Code != api.CodeNotFound {
				t.Fatalf("other tenant: %d %+v", st, eb)
			}
			st, eb, _ = rawDo(t, r, http.MethodGet, "/v1/jobs/"+j.ID+"/media?format=mp4", ownKey, "", nil, nil)
			if st != http.StatusBadRequest || eb.Error.Code != api.CodeInvalidRequest {
				t.Fatalf("format=mp4: %d %+v", st, eb)
			}

			// The same video again is a cache hit with the first job's copy.
			again, err := own.SubmitJob(ctx, api.JobRequest{URL: video, ChunkSeconds: new(float64)}, "")
			if err != nil || again.Result == nil || !again.Result.Cached {
				t.Fatalf("second submission: %+v, %v", again, err)
			}
			if link, err := own.JobMedia(ctx, again.ID); err != nil || link.Kind != api.MediaPlayback {
				t.Fatalf("cached job's media: %+v, %v", link, err)
			} else if got, _ := fetch(t, link.URL); !bytes.Equal(got, ogg) {
				t.Fatalf("cached job's media served %d bytes", len(got))
			}

			// A URL job whose agent made no copy has no media.
			plain, err := own.SubmitJob(ctx, api.JobRequest{URL: "https://www.youtube.com/watch?v=N0Med1a0000"}, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := ag.complete(ag.leaseOne(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, own, plain.ID, api.JobSucceeded)
			_, err = own.JobMedia(ctx, plain.ID)
			wantErr(t, err, http.StatusNotFound, api.CodeMediaUnavailable)

			// An upload job whose copy failed serves the upload itself.
			content := []byte("\x1aE\xdf\xa3 webm-ish bytes")
			uj, err := own.UploadJob(ctx, api.JobRequest{Language: "en"}, "talk.webm", bytes.NewReader(content), "")
			if err != nil {
				t.Fatal(err)
			}
			ul := ag.leaseOne(5 * time.Second)
			res = ag.upload(ul, sampleTranscript())
			res.Media = &api.MediaReport{Error: &api.Error{Code: api.CodePlaybackFailed, Message: "encode: exit status 1"}}
			if _, err := ag.c.Complete(ctx, ul.TaskID, api.CompleteRequest{Token: ul.Token, Result: res}); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, own, uj.ID, api.JobSucceeded)
			link, err = own.JobMedia(ctx, uj.ID)
			if err != nil || link.Kind != api.MediaUpload || link.ContentType != "video/webm" {
				t.Fatalf("upload job's media: %+v, %v", link, err)
			}
			if got, _ := fetch(t, link.URL); !bytes.Equal(got, content) {
				t.Fatalf("upload served %d bytes", len(got))
			}
		})
	}
}

// put writes body through a presigned PUT, as an agent does.
func put(t *testing.T, p api.Presigned, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(p.Method, p.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", api.PlaybackContentType)
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT: HTTP %d", resp.StatusCode)
	}
}

// fetch GETs a presigned URL as a browser's player would.
func fetch(t *testing.T, url string) ([]byte, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET media: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET media: HTTP %d: %s", resp.StatusCode, b)
	}
	return b, resp.Header.Get("Content-Type")
}

// mediaRedirect asks for a job's media the way a <video> element does and
// returns the status and Location without following it.
func mediaRedirect(t *testing.T, r *replica, jobID, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.url+"/v1/jobs/"+jobID+"/media", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "*/*")
	c := validatingClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET media: %v", err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Cache-Control"), "private") {
		t.Errorf("media redirect Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	return resp.StatusCode, resp.Header.Get("Location")
}
