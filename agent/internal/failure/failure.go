// Package failure classifies the errors of the agent's pipeline stages into the
// stable job error codes of the control-plane API and says whether another
// attempt could succeed. Stages wrap what went wrong with Permanent or
// Transient; anything unclassified is treated as transient, because retrying a
// job that could not succeed costs less than failing one that could.
package failure

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Error is a classified stage failure. It keeps its cause for errors.Is/As.
type Error struct {
	Code      string // an api.Code* job failure code
	Retryable bool
	err       error // the formatted message, wrapping the cause when %w was used
}

// Error returns the message without the code, so it reads well in job errors.
func (e *Error) Error() string { return e.err.Error() }

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.err }

// Permanent returns an error that fails the job at once: another attempt
// would fail the same way (private video, undecodable media, ...). The format
// may use %w to keep a cause.
func Permanent(code, format string, args ...any) error {
	return &Error{Code: code, err: fmt.Errorf(format, args...)}
}

// Transient returns an error worth another attempt (network trouble, rate
// limits, a tool that crashed). The format may use %w to keep a cause.
func Transient(code, format string, args ...any) error {
	return &Error{Code: code, Retryable: true, err: fmt.Errorf(format, args...)}
}

// Classify maps err to the error reported to the control plane and whether
// the task should be retried. A canceled context yields api.CodeCanceled and
// is not retryable: the caller decides whether to release the task (shutdown)
// or drop it (job canceled); see IsCanceled. Unclassified errors are
// transient internal errors. Classify(nil) returns a zero Error and false.
func Classify(err error) (api.Error, bool) {
	if err == nil {
		return api.Error{}, false
	}
	if errors.Is(err, context.Canceled) {
		return api.Error{Code: api.CodeCanceled, Message: err.Error()}, false
	}
	var fe *Error
	if errors.As(err, &fe) {
		return api.Error{Code: fe.Code, Message: err.Error()}, fe.Retryable
	}
	return api.Error{Code: api.CodeInternal, Message: err.Error()}, true
}

// Interrupted classifies a tool run that may have been cut short: the
// caller's ctx ending is passed on unclassified (a cancel is not the tool's
// failure), and the run's own runCtx, limited to timeout, expiring is a
// transient failure with code (a slow machine or a stuck tool; another attempt
// may finish). It returns nil when neither context has ended.
func Interrupted(ctx, runCtx context.Context, tool string, timeout time.Duration, code string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", tool, err)
	}
	if err := runCtx.Err(); err != nil {
		return Transient(code, "%s timed out after %s: %w", tool, timeout, err)
	}
	return nil
}

// IsCanceled reports whether err comes from a canceled context, so callers can
// tell "stop asked for" apart from a failure of the work itself.
func IsCanceled(err error) bool { return errors.Is(err, context.Canceled) }

// Code returns the classified code of err ("" for nil). Production code
// reads the code through Classify; tests of every stage check it here.
func Code(err error) string {
	if err == nil {
		return ""
	}
	e, _ := Classify(err)
	return e.Code
}
