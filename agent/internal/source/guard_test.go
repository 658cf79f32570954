package source

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/netguard"
)

// TestEgressGuard runs the real yt-dlp through the agent's egress guard: a
// source (allow-listed, standing in for a public site) that redirects to a
// loopback service is refused with forbidden_source, and the loopback
// service never sees a request.
func TestEgressGuard(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("secret"))
	}))
	defer internal.Close()
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/admin.mp4", http.StatusFound)
	}))
	defer public.Close()

	guard, err := netguard.NewProxy(netguard.Policy{Allow: []string{strings.TrimPrefix(public.URL, "http://")}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer guard.Close()
	y := NewYTDLP(Config{Retries: 0, GuardProxy: guard.URL()})
	ctx := context.Background()

	for name, url := range map[string]string{
		"redirect to loopback": public.URL + "/video.mp4",
		"loopback directly":    internal.URL + "/admin.mp4",
		"decimal loopback":     strings.Replace(internal.URL, "127.0.0.1", "2130706433", 1) + "/a.mp4",
	} {
		_, err := y.Download(ctx, url, t.TempDir(), Limits{})
		if failure.Code(err) != api.CodeForbiddenSource {
			t.Errorf("%s: got %v, want %s", name, err, api.CodeForbiddenSource)
		}
		if _, retry := failure.Classify(err); retry {
			t.Errorf("%s: a refused target must fail permanently", name)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback service was reached %d times", hits.Load())
	}
	// A run that allows private sources (dev mode) is not guarded.
	if _, err := y.Resolve(AllowPrivate(ctx), internal.URL+"/admin.mp4"); err != nil {
		t.Fatalf("allowed run: %v", err)
	}
}
