package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// sqlStateError is shaped like a database driver's error.
type sqlStateError string

func (e sqlStateError) Error() string    { return "database says " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

func TestMapError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("get job: %w", store.ErrNotFound), http.StatusNotFound, api.CodeNotFound},
		{fmt.Errorf("complete: %w", store.ErrStaleLease), http.StatusConflict, api.CodeStaleLease},
		{fmt.Errorf("query: %w", sqlStateError("57P01")), http.StatusServiceUnavailable, api.CodeUnavailable}, // admin shutdown
		{fmt.Errorf("query: %w", sqlStateError("08006")), http.StatusServiceUnavailable, api.CodeUnavailable}, // connection failure
		{fmt.Errorf("query: %w", sqlStateError("23505")), http.StatusInternalServerError, api.CodeInternal},   // a real bug
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), http.StatusServiceUnavailable, api.CodeUnavailable},
		{errors.New("boom"), http.StatusInternalServerError, api.CodeInternal},
	}
	for _, c := range cases {
		if status, e := mapError(c.err); status != c.status || e.Code != c.code {
			t.Errorf("mapError(%v) = %d %s, want %d %s", c.err, status, e.Code, c.status, c.code)
		}
	}
}
