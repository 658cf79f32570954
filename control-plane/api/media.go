package api

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Media kinds: what GET /v1/jobs/{id}/media points at.
const (
	// MediaPlayback is the Ogg Opus copy an agent made of the job's audio.
	MediaPlayback = "playback"
	// MediaUpload is the file the job was created from, as uploaded.
	MediaUpload = "upload"
)

// CodeMediaUnavailable (404) says a job has no media to play: no playback
// copy and no upload. The message says why.
const CodeMediaUnavailable = "media_unavailable"

// MediaLink is the body of GET /v1/jobs/{id}/media with
// "Accept: application/json" (or ?format=json): a presigned GET URL of the
// job's media. Without JSON the route redirects (302) to URL.
type MediaLink struct {
	URL         string    `json:"url"`
	ContentType string    `json:"content_type"`
	ExpiresAt   time.Time `json:"expires_at"`
	Kind        string    `json:"kind"` // MediaPlayback or MediaUpload
}

// JobMedia returns a time-limited URL of a job's media, for a player.
func (c *Client) JobMedia(ctx context.Context, id string) (MediaLink, error) {
	var m MediaLink
	err := c.Do(ctx, http.MethodGet, PathJobs+"/"+url.PathEscape(id)+"/media?format=json", nil, &m, nil)
	return m, err
}
