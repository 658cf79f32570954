package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	segjson "github.com/segmentio/encoding/json"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// FuzzResponseEncoding checks that responses encoded by the app's
// JSONEncoder are byte for byte what encoding/json writes, for the strings,
// numbers, times and maps a job carries.
func FuzzResponseEncoding(f *testing.F) {
	f.Add("https://example.com/a?b=1&c=<d>", "key", "val\u2028ue", 12.5, int64(3))
	f.Add("\xff\xfe invalid utf-8", "é", "\"quoted\" \\ \t\n", 1e21, int64(-1))
	f.Add("", "", "", math.Copysign(0, -1), int64(1<<53+1))
	f.Add("日本語", "\u2029", "<script>&</script>", 1e-7, int64(0))
	f.Fuzz(func(t *testing.T, url, key, val string, num float64, n int64) {
		// Times the server writes: years 1970 to 9999 (encoding/json
		// refuses to write others).
		secs := n % 253402300800
		if secs < 0 {
			secs = -secs
		}
		at := time.Unix(secs, n%1e9).UTC()
		j := api.Job{ID: url, Tenant: key, Status: api.JobSucceeded, Stage: val, Progress: num,
			Source: api.Source{URL: url}, Language: val, Metadata: map[string]any{key: val, val: num, "n": n,
				"nested": map[string]any{"list": []any{url, num, nil, true}}},
			ChunkSeconds: num, CreatedAt: at, FinishedAt: &at, Error: &api.Error{Code: key, Message: val}}
		want, werr := json.Marshal(j)
		got, gerr := segjson.Marshal(j)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("encoding/json error %v, segmentio error %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("segmentio wrote\n%s\nencoding/json wrote\n%s", got, want)
		}
	})
}

// BenchmarkResponseEncoding compares the app's JSONEncoder with
// encoding/json on a queued job's response.
func BenchmarkResponseEncoding(b *testing.B) {
	now := time.Now()
	j := api.Job{ID: "0193a7c2-1111-7abc-8def-0123456789ab", Tenant: "bench", Status: api.JobQueued,
		Source: api.Source{URL: "https://example.com/v/1234"}, Language: "en", Task: "transcribe",
		Captions: "auto", CreatedAt: now, UpdatedAt: now}
	for _, enc := range []struct {
		name    string
		marshal func(any) ([]byte, error)
	}{{"encoding-json", json.Marshal}, {"app", segjson.Marshal}} {
		b.Run(enc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := enc.marshal(j); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
