package store

// Bookkeeping shared by the backends: page sizes and the list cursor.
// Dialect-independent, so it lives here.

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// Page sizes of ListJobs.
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// PageLimit applies ListJobs' default and maximum page size.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// EncodeCursor makes the opaque cursor that resumes listing after job j:
// its creation time in microseconds and its id.
func EncodeCursor(j job.Job) string { return encodeCursor(j.CreatedAt, j.ID) }

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "." + id))
}

// DecodeCursor reads a cursor made by EncodeCursor or AuditCursor; a bad
// one is a validation error (400).
func DecodeCursor(c string) (time.Time, string, error) {
	bad := &job.ValidationError{Code: api.CodeInvalidRequest, Message: "invalid cursor"}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("decode cursor: %w", bad)
	}
	ts, id, ok := strings.Cut(string(b), ".")
	us, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", fmt.Errorf("decode cursor: %w", bad)
	}
	return time.UnixMicro(us).UTC(), id, nil
}
