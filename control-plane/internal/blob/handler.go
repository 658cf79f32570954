package blob

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// errForbidden is why a presigned request is refused; the message is safe to
// show the caller.
type errForbidden string

func (e errForbidden) Error() string { return string(e) }

// Handler serves the store's presigned URLs: GET and PUT on
// PathPrefix + key. It expects the full request path, PathPrefix included.
// Requests whose signature is missing, wrong or expired get 403; missing
// objects 404; PUT bodies over the cap 413. Errors use the API's JSON error
// body.
func (l *Local) Handler() http.Handler {
	return http.HandlerFunc(l.serveHTTP)
}

func (l *Local) serveHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !ok {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such blob")
		return
	}
	// As with S3 (SigV4 signs the method), a URL is good for the one method
	// it was signed for; HEAD is refused by the check below like any other.
	method := r.Method
	if err := l.verify(method, key, r.URL.Query(), l.clock()); err != nil {
		writeError(w, http.StatusForbidden, api.CodeForbidden, err.Error())
		return
	}
	// A valid signature implies a valid key; checking again costs nothing.
	if err := CheckKey(key); err != nil {
		writeError(w, http.StatusBadRequest, api.CodeInvalidRequest, "invalid key")
		return
	}
	switch method {
	case http.MethodPut:
		l.servePut(w, r, key)
		return
	case http.MethodGet:
	default: // only GET and PUT are ever signed
		writeError(w, http.StatusMethodNotAllowed, api.CodeInvalidRequest, "method not allowed")
		return
	}
	f, info, err := l.open(key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			writeError(w, http.StatusNotFound, api.CodeNotFound, "no such blob")
			return
		}
		l.log.ErrorContext(r.Context(), "blob read failed", "key", key, "err", err)
		writeError(w, http.StatusInternalServerError, api.CodeInternal, "read failed")
		return
	}
	defer f.Close()
	w.Header().Set("Cache-Control", "private, no-store")
	// Playback copies are Ogg Opus, which Go's built-in table does not name.
	if strings.HasSuffix(key, ".ogg") {
		w.Header().Set("Content-Type", api.PlaybackContentType)
	}
	// ServeContent takes the content type from the key's extension (else
	// sniffs it), and handles Range and conditional requests.
	http.ServeContent(w, r, key, info.ModTime(), f)
}

func (l *Local) servePut(w http.ResponseWriter, r *http.Request, key string) {
	if r.ContentLength > l.maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, api.CodeTooLarge,
			"body larger than "+strconv.FormatInt(l.maxBody, 10)+" bytes")
		return
	}
	body := http.MaxBytesReader(w, r.Body, l.maxBody)
	sum, err := l.write(r.Context(), key, body, r.ContentLength)
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeError(w, http.StatusRequestEntityTooLarge, api.CodeTooLarge,
				"body larger than "+strconv.FormatInt(l.maxBody, 10)+" bytes")
		case errors.Is(err, ErrSizeMismatch), errors.Is(err, io.ErrUnexpectedEOF):
			writeError(w, http.StatusBadRequest, api.CodeInvalidRequest, "body shorter than Content-Length")
		case r.Context().Err() != nil:
			// The client went away; nobody reads the reply.
		default:
			l.log.ErrorContext(r.Context(), "blob write failed", "key", key, "err", err)
			writeError(w, http.StatusInternalServerError, api.CodeInternal, "write failed")
		}
		return
	}
	w.Header().Set("ETag", `"`+sum+`"`)
	w.WriteHeader(http.StatusOK)
}

// verify checks a presigned request: exactly one method, expires and sig
// parameter, in the canonical form sign produces, a signature that matches
// (compared in constant time), and an expiry still in the future.
func (l *Local) verify(method, key string, q url.Values, now time.Time) error {
	one := func(name string) (string, bool) {
		v := q[name]
		if len(v) != 1 {
			return "", false
		}
		return v[0], true
	}
	m, ok1 := one("method")
	e, ok2 := one("expires")
	sig, ok3 := one("sig")
	if !ok1 || !ok2 || !ok3 {
		return errForbidden("missing or repeated signature parameters")
	}
	if m != method {
		return errForbidden("URL is signed for another method")
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || strconv.FormatInt(exp, 10) != e {
		return errForbidden("malformed expiry")
	}
	want := l.sign(method, key, exp)
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return errForbidden("signature does not match")
	}
	if !now.Before(time.Unix(exp, 0)) {
		return errForbidden("URL has expired")
	}
	return nil
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: api.Error{Code: code, Message: msg}})
}
