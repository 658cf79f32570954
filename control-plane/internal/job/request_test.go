package job

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func ptr[T any](v T) *T { return &v }

func TestNormalizeDefaults(t *testing.T) {
	t.Parallel()
	got, err := Normalize(api.JobRequest{URL: "  https://www.youtube.com/watch?v=abc  "}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{
		URL: "https://www.youtube.com/watch?v=abc", Language: "auto", Task: api.TaskTranscribe,
		Priority: DefaultPriority, Captions: api.CaptionsPreferExisting, Cache: true,
	}
	if got.URL != want.URL || got.Language != want.Language || got.Task != want.Task || got.Priority != want.Priority ||
		got.Captions != want.Captions || got.Cache != want.Cache || got.Model != "" || got.WebhookURL != "" {
		t.Errorf("Normalize defaults:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestNormalizeAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		req    api.JobRequest
		upload bool
		check  func(Spec) bool
	}{
		{"upload without url", api.JobRequest{}, true, func(s Spec) bool { return s.URL == "" && s.Language == "auto" }},
		{"language code", api.JobRequest{URL: "https://x.test/a", Language: " en "}, false, func(s Spec) bool { return s.Language == "en" }},
		{"language with region", api.JobRequest{URL: "https://x.test/a", Language: "pt-BR"}, false, func(s Spec) bool { return s.Language == "pt-BR" }},
		{"three-letter language with script", api.JobRequest{URL: "https://x.test/a", Language: "yue-Hant"}, false, func(s Spec) bool { return s.Language == "yue-Hant" }},
		{"translate", api.JobRequest{URL: "https://x.test/a", Task: api.TaskTranslate}, false, func(s Spec) bool { return s.Task == api.TaskTranslate }},
		{"priority 0", api.JobRequest{URL: "https://x.test/a", Priority: ptr(0)}, false, func(s Spec) bool { return s.Priority == 0 }},
		{"priority 9", api.JobRequest{URL: "https://x.test/a", Priority: ptr(9)}, false, func(s Spec) bool { return s.Priority == 9 }},
		{"asr only", api.JobRequest{URL: "https://x.test/a", Captions: api.CaptionsASROnly}, false, func(s Spec) bool { return s.Captions == api.CaptionsASROnly }},
		{"cache off", api.JobRequest{URL: "https://x.test/a", Cache: ptr(false)}, false, func(s Spec) bool { return !s.Cache }},
		{"model trimmed", api.JobRequest{URL: "https://x.test/a", Model: " base.en "}, false, func(s Spec) bool { return s.Model == "base.en" }},
		{"model of 128 bytes", api.JobRequest{URL: "https://x.test/a", Model: strings.Repeat("m", 128)}, false, func(s Spec) bool { return len(s.Model) == 128 }},
		{"webhook", api.JobRequest{URL: "https://x.test/a", WebhookURL: " https://hooks.test/h "}, false, func(s Spec) bool { return s.WebhookURL == "https://hooks.test/h" }},
		{"metadata and labels", api.JobRequest{URL: "https://x.test/a", Metadata: map[string]any{"course": "101"}, Labels: map[string]string{"gpu": "yes"}}, false,
			func(s Spec) bool { return s.Metadata["course"] == "101" && s.Labels["gpu"] == "yes" }},
		{"label of 63 characters", api.JobRequest{URL: "https://x.test/a", Labels: map[string]string{strings.Repeat("k", 63): strings.Repeat("v", 63)}}, false, func(Spec) bool { return true }},
		{"empty label value", api.JobRequest{URL: "https://x.test/a", Labels: map[string]string{"k": ""}}, false, func(Spec) bool { return true }},
		{"plain http with port and path", api.JobRequest{URL: "http://media.test:8080/v.mp4?x=1#t=3"}, false, func(Spec) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Normalize(tt.req, tt.upload)
			if err != nil {
				t.Fatalf("Normalize = %v", err)
			}
			if !tt.check(s) {
				t.Errorf("unexpected spec %+v", s)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		req      api.JobRequest
		upload   bool
		wantCode string
		wantMsg  string
	}{
		{"no url, no file", api.JobRequest{}, false, api.CodeInvalidRequest, "url is required"},
		{"blank url", api.JobRequest{URL: "   "}, false, api.CodeInvalidRequest, "url is required"},
		{"url and file", api.JobRequest{URL: "https://x.test/a"}, true, api.CodeInvalidRequest, "not both"},
		{"bad url scheme", api.JobRequest{URL: "ftp://x.test/a"}, false, api.CodeInvalidURL, "scheme"},
		{"url without host", api.JobRequest{URL: "https:///a"}, false, api.CodeInvalidURL, "no host"},
		{"url with credentials", api.JobRequest{URL: "https://u:p@x.test/a"}, false, api.CodeInvalidURL, "credentials"},
		{"url too long", api.JobRequest{URL: "https://x.test/" + strings.Repeat("a", MaxURLLength)}, false, api.CodeInvalidURL, "longer"},
		{"language upper case", api.JobRequest{URL: "https://x.test/a", Language: "EN"}, false, api.CodeInvalidRequest, "language"},
		{"language name", api.JobRequest{URL: "https://x.test/a", Language: "english"}, false, api.CodeInvalidRequest, "language"},
		{"language with bad region", api.JobRequest{URL: "https://x.test/a", Language: "en-"}, false, api.CodeInvalidRequest, "language"},
		{"task", api.JobRequest{URL: "https://x.test/a", Task: "summarize"}, false, api.CodeInvalidRequest, "task"},
		{"model too long", api.JobRequest{URL: "https://x.test/a", Model: strings.Repeat("m", 129)}, false, api.CodeInvalidRequest, "model"},
		{"priority below 0", api.JobRequest{URL: "https://x.test/a", Priority: ptr(-1)}, false, api.CodeInvalidRequest, "priority"},
		{"priority above 9", api.JobRequest{URL: "https://x.test/a", Priority: ptr(10)}, false, api.CodeInvalidRequest, "priority"},
		{"captions", api.JobRequest{URL: "https://x.test/a", Captions: "never"}, false, api.CodeInvalidRequest, "captions"},
		{"webhook scheme", api.JobRequest{URL: "https://x.test/a", WebhookURL: "javascript:alert(1)"}, false, api.CodeInvalidRequest, "webhook_url: url scheme"},
		{"webhook credentials", api.JobRequest{URL: "https://x.test/a", WebhookURL: "https://u@hooks.test"}, false, api.CodeInvalidRequest, "webhook_url"},
		{"metadata too big", api.JobRequest{URL: "https://x.test/a", Metadata: map[string]any{"k": strings.Repeat("x", MaxMetadataBytes)}}, false, api.CodeInvalidRequest, "metadata"},
		{"metadata not JSON", api.JobRequest{URL: "https://x.test/a", Metadata: map[string]any{"k": math.NaN()}}, false, api.CodeInvalidRequest, "metadata"},
		{"metadata with NUL", api.JobRequest{URL: "https://x.test/a", Metadata: map[string]any{"k": "a\x00b"}}, false, api.CodeInvalidRequest, "NUL"},
		{"label with NUL", api.JobRequest{URL: "https://x.test/a", Labels: map[string]string{"zone": "eu\x00"}}, false, api.CodeInvalidRequest, "NUL"},
		{"model with NUL", api.JobRequest{URL: "https://x.test/a", Model: "base\x00"}, false, api.CodeInvalidRequest, "NUL"},
		{"empty label key", api.JobRequest{URL: "https://x.test/a", Labels: map[string]string{"": "v"}}, false, api.CodeInvalidRequest, "labels"},
		{"label key too long", api.JobRequest{URL: "https://x.test/a", Labels: map[string]string{strings.Repeat("k", 64): "v"}}, false, api.CodeInvalidRequest, "labels"},
		{"label value too long", api.JobRequest{URL: "https://x.test/a", Labels: map[string]string{"k": strings.Repeat("v", 64)}}, false, api.CodeInvalidRequest, "labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Normalize(tt.req, tt.upload)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Normalize = %v, want a *ValidationError", err)
			}
			if ve.Code != tt.wantCode || !strings.Contains(ve.Message, tt.wantMsg) || ve.Error() != ve.Message {
				t.Errorf("Normalize = %q (%s), want code %s mentioning %q", ve.Message, ve.Code, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestValidateURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		wantMsg string // "" means valid
	}{
		{"https://www.youtube.com/watch?v=dQw4w9WgXcQ", ""},
		{"http://127.0.0.1:8080/media.mp4", ""}, // reachability is checked elsewhere
		{"HTTPS://Example.COM/x", ""},
		{"https://[::1]:443/x", ""},
		{"https://xn--bcher-kva.example/", ""},
		{"https://example.com/" + strings.Repeat("a", MaxURLLength-len("https://example.com/")), ""},
		{"https://example.com/" + strings.Repeat("a", MaxURLLength-len("https://example.com/")+1), "longer than"},
		{"ftp://example.com/x", "scheme"},
		{"file:///etc/passwd", "scheme"},
		{"javascript:alert(1)", "scheme"},
		{"//example.com/x", "scheme"},
		{"example.com/x", "scheme"},
		{"", "scheme"},
		{"https://", "no host"},
		{"https:///path", "no host"},
		{"https://:443/x", "no host"},
		{"https://user@example.com/", "credentials"},
		{"https://user:pass@example.com/", "credentials"},
		{"https://exa mple.com/", "does not parse"},
		{"https://example.com/%zz", "does not parse"},
		{"http://[::1/x", "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.url[:min(len(tt.url), 40)], func(t *testing.T) {
			t.Parallel()
			err := ValidateURL(tt.url)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("ValidateURL(%q) = %v", tt.url, err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Code != api.CodeInvalidURL || !strings.Contains(ve.Message, tt.wantMsg) {
				t.Fatalf("ValidateURL(%q) = %v, want %s mentioning %q", tt.url, err, api.CodeInvalidURL, tt.wantMsg)
			}
		})
	}
}

func TestSpecHash(t *testing.T) {
	t.Parallel()
	a, err := Normalize(api.JobRequest{URL: "https://x.test/a", Metadata: map[string]any{"b": 1.0, "a": "x"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	same, _ := Normalize(api.JobRequest{URL: " https://x.test/a", Language: "auto", Priority: ptr(5), Metadata: map[string]any{"a": "x", "b": 1.0}}, false)
	other, _ := Normalize(api.JobRequest{URL: "https://x.test/a", Priority: ptr(6), Metadata: map[string]any{"b": 1.0, "a": "x"}}, false)
	if a.Hash() != same.Hash() {
		t.Error("equal normalized requests hash differently")
	}
	if a.Hash() == other.Hash() {
		t.Error("different requests hash the same")
	}
	if len(a.Hash()) != 64 {
		t.Errorf("hash %q is not hex SHA-256", a.Hash())
	}
}
