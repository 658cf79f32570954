package job

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// FuzzNormalize feeds JSON request bodies to Normalize: it must not panic, a
// rejection is a *ValidationError with a request or URL code, and an accepted
// spec holds only allowed values and normalizes to itself.
func FuzzNormalize(f *testing.F) {
	f.Add([]byte(`{"url":"https://www.youtube.com/watch?v=abc"}`), false)
	f.Fuzz(func(t *testing.T, body []byte, upload bool) {
		var req api.JobRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		s, err := Normalize(req, upload)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || (ve.Code != api.CodeInvalidRequest && ve.Code != api.CodeInvalidURL) || ve.Message == "" {
				t.Fatalf("Normalize error %#v is not a coded ValidationError", err)
			}
			return
		}
		if upload != (s.URL == "") {
			t.Fatalf("upload=%v with url %q", upload, s.URL)
		}
		if !upload && ValidateURL(s.URL) != nil {
			t.Fatalf("accepted url %q fails ValidateURL", s.URL)
		}
		if !languageRE.MatchString(s.Language) ||
			(s.Task != api.TaskTranscribe && s.Task != api.TaskTranslate) ||
			s.Priority < 0 || s.Priority > MaxPriority ||
			(s.Captions != api.CaptionsPreferExisting && s.Captions != api.CaptionsASROnly) {
			t.Fatalf("accepted spec out of range: %+v", s)
		}
		again, err := Normalize(api.JobRequest{
			URL: s.URL, Language: s.Language, Task: s.Task, Model: s.Model, Priority: &s.Priority,
			Captions: s.Captions, Cache: &s.Cache, WebhookURL: s.WebhookURL, Metadata: s.Metadata, Labels: s.Labels,
		}, upload)
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("normalizing a spec again changed it: %+v -> %+v, %v", s, again, err)
		}
		if s.Hash() != again.Hash() {
			t.Fatal("hash is not stable")
		}
	})
}
