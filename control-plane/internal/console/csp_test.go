package console_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/console"
)

// TestMediaCSP: the console's pages may play media from the blob store's
// origin, and from nowhere else but their own; a value that is no origin
// cannot widen the policy.
func TestMediaCSP(t *testing.T) {
	t.Parallel()
	key := []byte(strings.Repeat("k", 64))
	for _, tc := range []struct {
		origins []string
		want    string
	}{
		{nil, "media-src 'self';"},
		{[]string{"http://127.0.0.1:9000"}, "media-src 'self' http://127.0.0.1:9000;"},
	} {
		con, err := console.New(console.Config{Keys: [][]byte{key}, MediaOrigins: tc.origins}, time.Now, quiet())
		if err != nil {
			t.Fatal(err)
		}
		app := fiber.New()
		con.Mount(app.Group("/console"), func(context.Context, string) (auth.Principal, error) { return auth.Principal{}, nil })
		resp, err := app.Test(httptest.NewRequest("GET", "/console/login", nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, tc.want) || !strings.HasPrefix(csp, "default-src 'none';") {
			t.Errorf("origins %v: CSP %q, want %q in it", tc.origins, csp, tc.want)
		}
	}
	if _, err := console.New(console.Config{Keys: [][]byte{key}, MediaOrigins: []string{"https://a.example; script-src *"}}, time.Now, quiet()); err == nil {
		t.Error("an origin with a ';' was accepted")
	}
}
