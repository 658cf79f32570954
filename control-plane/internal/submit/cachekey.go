package submit

import (
	"context"
	"encoding/hex"
	"hash"
	"net/http"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/internal/site"
)

// sourceKey names the media a job reads, independent of how it was spelled:
// a YouTube video id, the SHA-256 of an uploaded file, or, for other URLs,
// the normalized URL plus the validators a HEAD request returns (ETag, or
// Last-Modified with Content-Length). "" means not cacheable: a direct URL
// whose server gives no validator could change behind the same URL. A URL
// naming a media file in a job that skips the cache is keyed when its
// result comes in, by what the agent's download saw.
func (s *Service) sourceKey(ctx context.Context, sp job.Spec, uploadSum hash.Hash) string {
	if sp.UploadKey != "" {
		return "sha256:" + hex.EncodeToString(uploadSum.Sum(nil))
	}
	if id := site.YouTubeID(sp.URL); id != "" {
		return "youtube:" + id
	}
	if job.NormalizeURL(sp.URL) == "" {
		return ""
	}
	if !sp.Cache && site.IsMediaURL(sp.URL) {
		// Nothing to look up, and the agent reports the validator of the
		// bytes it fetches: the job keys the cache entry its fresh result
		// refreshes by that (job.State), so no HEAD request here.
		return ""
	}
	return job.URLSource(sp.URL, s.probe(ctx, sp.URL))
}

// probe returns the validators of a direct media URL, or "".
func (s *Service) probe(ctx context.Context, raw string) string {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, raw, nil)
	if err != nil {
		return ""
	}
	resp, err := s.probes.Do(req)
	if err != nil {
		return ""
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return ""
	}
	return site.Validator(resp.Header)
}
