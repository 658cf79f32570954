package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Error is the body of every error response, under the key "error", and the
// error recorded on a failed job or task.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrorBody is the JSON envelope of an error response.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Stable error codes. Clients may switch on them; the messages are for people.
const (
	// Request errors.
	CodeInvalidRequest  = "invalid_request"  // 400: malformed body or field
	CodeInvalidURL      = "invalid_url"      // 400: not an http(s) URL
	CodeForbiddenSource = "forbidden_source" // 400: loopback/private target in server mode
	CodeUnauthorized    = "unauthorized"     // 401: missing, unknown, expired or revoked credential
	CodeForbidden       = "forbidden"        // 403: the credential's role may not do this
	CodeNotFound        = "not_found"        // 404
	CodeConflict        = "conflict"         // 409: state does not allow the operation
	CodeIdempotency     = "idempotency_conflict"
	CodeTooLarge        = "payload_too_large" // 413
	CodeUnprocessable   = "unprocessable"     // 422
	CodeRateLimited     = "rate_limited"      // 429
	CodeUnavailable     = "unavailable"       // 503
	CodeInternal        = "internal"          // 500

	// Agent protocol errors.
	CodeStaleLease   = "stale_lease"   // 409: the fencing token is no longer current; drop the task
	CodeAgentRevoked = "agent_revoked" // 401: re-enroll
	CodeBadToken     = "bad_enrollment_token"

	// Job failure codes (Job.Error.Code), set by the pipeline or the sweeper.
	CodeUnsupportedURL   = "unsupported_url"
	CodeSourceNotFound   = "source_not_found"
	CodeSourcePrivate    = "source_private"
	CodeNoAudio          = "no_audio"
	CodeUndecodable      = "undecodable_media"
	CodeTooLong          = "media_too_long"
	CodeMediaTooLarge    = "media_too_large"
	CodeDownloadFailed   = "download_failed"
	CodeTranscribeFailed = "transcription_failed"
	CodeUnsupportedLang  = "unsupported_language" // the engine cannot recognize the requested language
	CodeLeaseExpired     = "lease_expired"
	CodeMaxAttempts      = "max_attempts_exceeded"
	CodeCanceled         = "canceled"
	// CodeChunkMissing: a transcribe task found its chunk's audio gone (it
	// outlived its retention); the job is prepared again.
	CodeChunkMissing = "chunk_missing"
)

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// StatusError is returned by Client for non-2xx responses.
type StatusError struct {
	Status int
	Err    Error
	// RetryAfter is the server's Retry-After in seconds, if any.
	RetryAfter int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("ytcaption: HTTP %d: %s: %s", e.Status, e.Err.Code, e.Err.Message)
}

// RetryableStatus reports whether a call answered with status is worth
// retrying (see the agent protocol's error list): 429 and 5xx say the server,
// or a proxy in front of it, is busy or in trouble; any other status is an
// answer that another try would repeat.
func RetryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// Retryable reports whether a Client call that failed with err is worth
// retrying: a transport error (the server restarting or out of reach) or a
// RetryableStatus. A canceled context is the caller giving up, not a failure.
func Retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return RetryableStatus(se.Status)
	}
	return err != nil && !errors.Is(err, context.Canceled)
}
