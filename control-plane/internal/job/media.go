package job

import (
	"path"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// MediaSource is the object a job's media is served from.
type MediaSource struct {
	Key         string
	Kind        string // api.MediaPlayback or api.MediaUpload
	ContentType string
}

// Media decides what GET /v1/jobs/{id}/media serves: the playback copy a
// caption or prepare task reported, which every browser plays, else the
// file the job was uploaded with. Without either, ok is false and why says
// what a person asking should know.
func Media(j Job, tasks []Task) (src MediaSource, why string, ok bool) {
	var failed *api.Error
	for _, t := range tasks {
		if t.Kind != KindCaption && t.Kind != KindPrepare || t.State != TaskSucceeded || t.Result == nil || t.Result.Media == nil {
			continue
		}
		if m := t.Result.Media; m.Error == nil && m.Key != "" {
			ct := m.ContentType
			if ct == "" {
				ct = api.PlaybackContentType
			}
			return MediaSource{Key: m.Key, Kind: api.MediaPlayback, ContentType: ct}, "", true
		}
		failed = t.Result.Media.Error
	}
	if j.Spec.UploadKey != "" {
		return MediaSource{Key: j.Spec.UploadKey, Kind: api.MediaUpload, ContentType: UploadContentType(j.Spec.Filename)}, "", true
	}
	switch {
	case failed != nil:
		return MediaSource{}, "the agent could not make a playback copy (" + failed.Message + ") and the job was not created from an upload", false
	case j.Result != nil && j.Result.Cached:
		return MediaSource{}, "the job was answered from the result cache and the cached job has no playback copy", false
	case j.Result != nil && j.Result.Origin == "captions":
		return MediaSource{}, "the job used the source's existing captions, so no media was downloaded", false
	case j.Status == api.JobQueued || j.Status == api.JobRunning:
		return MediaSource{}, "the job is " + string(j.Status) + "; its playback copy is made when its media has been downloaded", false
	}
	return MediaSource{}, "the job has no playback copy and was not created from an upload", false
}

// uploadTypes are the content types of media files browsers may play,
// by extension; a player sniffs anything else.
var uploadTypes = map[string]string{
	".mp4": "video/mp4", ".m4v": "video/mp4", ".m4a": "audio/mp4", ".mov": "video/quicktime",
	".webm": "video/webm", ".mkv": "video/x-matroska", ".ogg": "audio/ogg", ".oga": "audio/ogg",
	".opus": "audio/ogg", ".ogv": "video/ogg", ".mp3": "audio/mpeg", ".wav": "audio/wav",
	".flac": "audio/flac", ".aac": "audio/aac",
}

// UploadContentType is the content type of an uploaded file, judged by its
// name (the upload itself is stored as application/octet-stream).
func UploadContentType(filename string) string {
	if ct, ok := uploadTypes[strings.ToLower(path.Ext(filename))]; ok {
		return ct
	}
	return "application/octet-stream"
}
