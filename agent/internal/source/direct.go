package source

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/netguard"
	"github.com/ytcaption/ytcaption/internal/site"
)

// Direct fetches media files that plain HTTP(S) URLs name ("…/talk.mp4")
// without yt-dlp: for such a URL yt-dlp's generic extractor does a plain
// GET too, after starting a Python interpreter twice (resolve, download),
// which costs more than the whole rest of a short clip's overhead. It
// follows the same egress rules as yt-dlp: through the operator's proxy
// when one is set, else through the agent's guard unless the run allows
// private sources.
type Direct struct {
	open, guarded *http.Client
}

// ErrNotMedia means a URL that looked like a media file answered with a web
// page: yt-dlp may know how to get media out of it.
var ErrNotMedia = errors.New("the URL answered with a web page, not media")

// NewDirect returns a Direct taking its proxies from cfg (Proxy,
// GuardProxy) and cfg.DownloadTimeout (default 1h) as a download's limit.
func NewDirect(cfg Config) *Direct {
	timeout := cfg.DownloadTimeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	client := func(proxy string) *http.Client {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		if proxy != "" {
			// A malformed proxy URL fails each request, as it fails yt-dlp.
			t.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse(proxy) }
		}
		return &http.Client{Transport: t, Timeout: timeout}
	}
	guard := cfg.GuardProxy
	if cfg.Proxy != "" {
		guard = cfg.Proxy
	}
	return &Direct{open: client(cfg.Proxy), guarded: client(guard)}
}

// Title is what a media URL's file is called, without its extension.
func Title(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	base := path.Base(u.Path)
	return strings.TrimSuffix(base, path.Ext(base))
}

// Download fetches the media file raw names into dir and returns its path
// and the response's validator (site.Validator: what identifies the bytes
// fetched; "" when the server gives none). A web page in its place is
// ErrNotMedia; the limits' MaxBytes applies.
func (d *Direct) Download(ctx context.Context, raw, dir string, lim Limits) (path, validator string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", failure.Permanent(api.CodeInvalidURL, "source URL: %w", err)
	}
	client := d.guarded
	if privateAllowed(ctx) {
		client = d.open
	}
	dest := filepath.Join(dir, "source"+strings.ToLower(filepath.Ext(u.Path)))
	_, err = fetch(ctx, client, raw, dest, lim.MaxBytes, func(resp *http.Response) error {
		if err := directCheck(resp); err != nil {
			return err
		}
		validator = site.Validator(resp.Header)
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return dest, validator, nil
}

// directCheck classifies a public source's answer: the guard's refusal is
// final, as are a missing file and a page where media was expected.
func directCheck(resp *http.Response) error {
	code := resp.StatusCode
	switch {
	case code == http.StatusForbidden && refusedByGuard(resp):
		return failure.Permanent(api.CodeForbiddenSource, "source: %s", netguard.RefusedReason)
	case code == http.StatusNotFound || code == http.StatusGone:
		return failure.Permanent(api.CodeSourceNotFound, "source: HTTP %d: %w", code, errStatus)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return failure.Permanent(api.CodeSourcePrivate, "source: HTTP %d: %w", code, errStatus)
	case api.RetryableStatus(code):
		return failure.Transient(api.CodeDownloadFailed, "source: HTTP %d: %w", code, errStatus)
	case code < 200 || code > 299:
		return failure.Permanent(api.CodeDownloadFailed, "source: HTTP %d: %w", code, errStatus)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" || mt == "application/xhtml+xml" {
		return ErrNotMedia
	}
	return nil
}

// refusedByGuard tells the guard's refusal of a plain-HTTP request (its
// reason phrase, or its body) from the source's own 403.
func refusedByGuard(resp *http.Response) bool {
	if strings.Contains(resp.Status, netguard.RefusedReason) {
		return true
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	return strings.Contains(string(head), netguard.RefusedReason)
}
