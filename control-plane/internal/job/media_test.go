package job

import (
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func TestMedia(t *testing.T) {
	t.Parallel()
	done := func(kind string, m *api.MediaReport) Task {
		return Task{Kind: kind, State: TaskSucceeded, Result: &api.TaskResult{Media: m}}
	}
	copyOf := &api.MediaReport{Key: "jobs/j1/media/playback.ogg", Size: 9, ContentType: api.PlaybackContentType}
	broken := &api.MediaReport{Error: &api.Error{Code: api.CodePlaybackFailed, Message: "ffmpeg: no libopus"}}
	upload := Job{Status: api.JobSucceeded, Spec: Spec{UploadKey: "uploads/j1/source", Filename: "Talk.MP4"}}
	fromURL := Job{Status: api.JobSucceeded, Spec: Spec{URL: "https://example.com/v"}, Result: &api.JobResult{}}
	tests := []struct {
		name  string
		j     Job
		tasks []Task
		want  MediaSource
		why   string // a part of the reason, when there is no media
	}{
		{"caption task's copy", fromURL, []Task{done(KindCaption, copyOf)},
			MediaSource{Key: copyOf.Key, Kind: api.MediaPlayback, ContentType: "audio/ogg"}, ""},
		{"prepare task's copy, not a chunk's", fromURL, []Task{done(KindPrepare, copyOf), done(KindTranscribe, nil), done(KindMerge, nil)},
			MediaSource{Key: copyOf.Key, Kind: api.MediaPlayback, ContentType: "audio/ogg"}, ""},
		{"the copy before the upload", upload, []Task{done(KindCaption, copyOf)},
			MediaSource{Key: copyOf.Key, Kind: api.MediaPlayback, ContentType: "audio/ogg"}, ""},
		{"a copy of a task that did not succeed is not used", upload,
			[]Task{{Kind: KindCaption, State: TaskQueued, Result: &api.TaskResult{Media: copyOf}}},
			MediaSource{Key: "uploads/j1/source", Kind: api.MediaUpload, ContentType: "video/mp4"}, ""},
		{"failed copy: the upload", upload, []Task{done(KindCaption, broken)},
			MediaSource{Key: "uploads/j1/source", Kind: api.MediaUpload, ContentType: "video/mp4"}, ""},
		{"failed copy of a URL job", fromURL, []Task{done(KindCaption, broken)}, MediaSource{}, "no libopus"},
		{"cache hit", Job{Status: api.JobSucceeded, Result: &api.JobResult{Cached: true}}, []Task{done(KindCaption, nil)},
			MediaSource{}, "result cache"},
		{"existing captions", Job{Status: api.JobSucceeded, Result: &api.JobResult{Result: api.Result{Origin: "captions"}}},
			[]Task{done(KindCaption, nil)}, MediaSource{}, "existing captions"},
		{"still running", Job{Status: api.JobRunning}, []Task{{Kind: KindPrepare, State: TaskLeased}}, MediaSource{}, "running"},
		{"no copy reported", fromURL, []Task{done(KindCaption, nil)}, MediaSource{}, "no playback copy"},
	}
	for _, tt := range tests {
		got, why, ok := Media(tt.j, tt.tasks)
		if got != tt.want || ok != (tt.why == "") || !strings.Contains(why, tt.why) {
			t.Errorf("%s: Media = %+v, %q, %v; want %+v, %q", tt.name, got, why, ok, tt.want, tt.why)
		}
	}
}

func TestUploadContentType(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{"a.webm": "video/webm", "B.OGG": "audio/ogg", "c.mp3": "audio/mpeg",
		"noext": "application/octet-stream", "d.exe": "application/octet-stream"} {
		if got := UploadContentType(name); got != want {
			t.Errorf("UploadContentType(%q) = %q, want %q", name, got, want)
		}
	}
}
