package source

import (
	"math"
	"testing"
)

// FuzzParseInfo: yt-dlp's info JSON describes a site's page; it must never
// panic the agent.
func FuzzParseInfo(f *testing.F) {
	f.Add([]byte(`{"id":"x","title":"t","duration":12.5,"extractor_key":"Youtube","subtitles":{"en":[{"ext":"vtt","url":"https://x"}]}}`))
	f.Add([]byte(`{"_type":"playlist"}`))
	f.Add([]byte(`{"duration":-1,"is_live":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseInfo(data)
		if err == nil && (info.Duration < 0 || math.IsNaN(info.Duration)) {
			t.Fatalf("bad duration %v", info.Duration)
		}
	})
}
