package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/netguard"
)

// HTTP fetches uploaded media from presigned URLs.
type HTTP struct {
	Client *http.Client // default http.DefaultClient; set timeouts/transport here
}

// FetchURL downloads url to dest, refusing more than maxBytes (0: no limit),
// and returns the number of bytes written. A partial file is removed.
func (h *HTTP) FetchURL(ctx context.Context, url, dest string, maxBytes int64) (n int64, err error) {
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	return fetch(ctx, client, url, dest, maxBytes, func(resp *http.Response) error { return statusError(resp.StatusCode) })
}

// fetch GETs url into dest, refusing more than maxBytes (0: no limit);
// check vets the response before its body is read. A partial file is
// removed.
func fetch(ctx context.Context, client *http.Client, url, dest string, maxBytes int64, check func(*http.Response) error) (n int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, failure.Permanent(api.CodeInvalidURL, "source URL: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("fetch source: %w", ctx.Err())
		}
		if strings.Contains(err.Error(), netguard.RefusedReason) { // the guard refused the tunnel (https)
			return 0, failure.Permanent(api.CodeForbiddenSource, "fetch source: %w", err)
		}
		return 0, failure.Transient(api.CodeDownloadFailed, "fetch source: %w", err)
	}
	defer resp.Body.Close()
	if err := check(resp); err != nil {
		return 0, err
	}
	if maxBytes > 0 && resp.ContentLength > maxBytes {
		return 0, failure.Permanent(api.CodeMediaTooLarge, "media is %d bytes; the limit is %d", resp.ContentLength, maxBytes)
	}

	f, err := os.Create(dest)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", dest, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", dest, cerr)
		}
		if err != nil {
			_ = os.Remove(dest)
		}
	}()
	var body io.Reader = resp.Body
	if maxBytes > 0 {
		body = io.LimitReader(resp.Body, maxBytes+1)
	}
	n, err = io.Copy(f, body)
	if err != nil {
		if ctx.Err() != nil {
			return n, fmt.Errorf("fetch source: %w", ctx.Err())
		}
		return n, failure.Transient(api.CodeDownloadFailed, "fetch source body: %w", err)
	}
	if maxBytes > 0 && n > maxBytes {
		return n, failure.Permanent(api.CodeMediaTooLarge, "media is larger than %d bytes", maxBytes)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, failure.Transient(api.CodeDownloadFailed, "fetch source: got %d of %d bytes: %w", n, resp.ContentLength, io.ErrUnexpectedEOF)
	}
	return n, nil
}

var errStatus = errors.New("unexpected HTTP status")

// statusError classifies an HTTP status of a presigned GET. A 403 usually
// means the signature expired; a new attempt gets a fresh URL, so it is
// transient.
func statusError(code int) error {
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusNotFound || code == http.StatusGone:
		return failure.Permanent(api.CodeSourceNotFound, "source: HTTP %d: %w", code, errStatus)
	case code == http.StatusForbidden || api.RetryableStatus(code):
		return failure.Transient(api.CodeDownloadFailed, "source: HTTP %d: %w", code, errStatus)
	default:
		return failure.Permanent(api.CodeDownloadFailed, "source: HTTP %d: %w", code, errStatus)
	}
}
