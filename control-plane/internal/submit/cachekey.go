package submit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/internal/site"
)

// sourceKey names the media a job reads, independent of how it was spelled:
// a YouTube video id, the SHA-256 of an uploaded file, or, for other URLs,
// the normalized URL plus the validators a HEAD request returns (ETag, or
// Last-Modified with Content-Length). "" means not cacheable: a direct URL
// whose server gives no validator could change behind the same URL.
func (s *Service) sourceKey(ctx context.Context, sp job.Spec, uploadSum hash.Hash) string {
	if sp.UploadKey != "" {
		return "sha256:" + hex.EncodeToString(uploadSum.Sum(nil))
	}
	if id := site.YouTubeID(sp.URL); id != "" {
		return "youtube:" + id
	}
	norm := NormalizeURL(sp.URL)
	if norm == "" {
		return ""
	}
	v := s.probe(ctx, sp.URL)
	if v == "" {
		return ""
	}
	return "url:" + norm + "|" + v
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
	if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		return "etag:" + et
	}
	if lm, cl := resp.Header.Get("Last-Modified"), resp.Header.Get("Content-Length"); lm != "" && cl != "" {
		return "lm:" + lm + "|len:" + cl
	}
	return ""
}

// cacheKey combines a source key with the options that change a transcript.
func cacheKey(source string, s job.Spec) string {
	h := sha256.New()
	for _, part := range []string{source, s.Language, s.Task, s.Model, s.Captions} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// NormalizeURL lower-cases scheme and host, drops default ports and the
// fragment, and sorts the query, so spellings of one URL compare equal.
func NormalizeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	u.Host = host
	if port != "" {
		u.Host = net.JoinHostPort(host, port)
	}
	u.Fragment, u.RawFragment = "", ""
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := q[k]
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	u.RawQuery = strings.Join(parts, "&")
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String()
}
