package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/internal/caption"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// httpError is an error with a chosen status and stable code.
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.code + ": " + e.msg }

func errorf(status int, code, msg string) error {
	return &httpError{status: status, code: code, msg: msg}
}

// mapError is the one place errors become an HTTP status and a stable code.
// Internal details are logged, never sent.
func mapError(err error) (int, api.Error) {
	var he *httpError
	var ve *job.ValidationError
	var fe *fiber.Error
	switch {
	case errors.As(err, &he):
		return he.status, api.Error{Code: he.code, Message: he.msg}
	case errors.As(err, &ve):
		return http.StatusBadRequest, api.Error{Code: ve.Code, Message: ve.Message}
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, api.Error{Code: api.CodeNotFound, Message: "not found"}
	case errors.Is(err, store.ErrStaleLease):
		return http.StatusConflict, api.Error{Code: api.CodeStaleLease, Message: "the lease is no longer held with this token; drop the task"}
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, api.Error{Code: api.CodeConflict, Message: "the operation is not allowed in the current state"}
	case errors.Is(err, store.ErrIdempotencyMismatch):
		return http.StatusUnprocessableEntity, api.Error{Code: api.CodeIdempotency, Message: "Idempotency-Key was already used with a different request"}
	case errors.Is(err, caption.ErrInvalidTranscript):
		return http.StatusUnprocessableEntity, api.Error{Code: api.CodeUnprocessable, Message: "the job's transcript is invalid and cannot be rendered; retry the job"}
	case errors.Is(err, store.ErrExpired):
		return http.StatusUnauthorized, api.Error{Code: api.CodeBadToken, Message: "enrollment token expired, revoked or used up"}
	case errors.As(err, &fe):
		switch fe.Code {
		case http.StatusRequestEntityTooLarge:
			return fe.Code, api.Error{Code: api.CodeTooLarge, Message: "request body too large"}
		case http.StatusNotFound:
			return fe.Code, api.Error{Code: api.CodeNotFound, Message: "no such route"}
		case http.StatusMethodNotAllowed:
			return fe.Code, api.Error{Code: api.CodeInvalidRequest, Message: "method not allowed"}
		case http.StatusBadRequest:
			return fe.Code, api.Error{Code: api.CodeInvalidRequest, Message: fe.Message}
		}
		return fe.Code, api.Error{Code: api.CodeInternal, Message: fe.Message}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, blob.ErrUnavailable), isConnError(err):
		return http.StatusServiceUnavailable, api.Error{Code: api.CodeUnavailable, Message: "a backend is unavailable or did not answer in time; retry"}
	}
	return http.StatusInternalServerError, api.Error{Code: api.CodeInternal, Message: "internal error"}
}

// isConnError reports a failure to reach a backend (database, object store):
// the drivers wrap the network error they got.
func isConnError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// A database that is shutting down or restarting answers with SQLSTATE
	// class 57P (operator intervention: admin/crash shutdown, cannot connect
	// now) or 08 (connection exception); the driver's error says which.
	var sql interface{ SQLState() string }
	if errors.As(err, &sql) {
		st := sql.SQLState()
		return strings.HasPrefix(st, "57P") || strings.HasPrefix(st, "08")
	}
	return false
}

func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, e := mapError(err)
		if status >= 500 || status == http.StatusUnprocessableEntity {
			log.Error("request failed", "method", c.Method(), "path", c.Path(), "status", status, "err", err)
		}
		if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
			c.Set(fiber.HeaderRetryAfter, "2")
		}
		return c.Status(status).JSON(api.ErrorBody{Error: e})
	}
}

func badRequest(msg string) error { return errorf(http.StatusBadRequest, api.CodeInvalidRequest, msg) }
