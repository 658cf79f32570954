package source

import (
	"bytes"
	"math"
	"testing"
)

// FuzzParseVTT: yt-dlp's subtitle files are site-controlled input. No input
// may panic, and what parses is a sane transcript.
func FuzzParseVTT(f *testing.F) {
	for _, s := range []string{
		"WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello <c>world</c>\n",
		"\ufeffWEBVTT Kind: captions\r\n\r\n1\r\n00:01.000 --> 00:02.000 align:start\r\n<00:00:01.500>Hi\r\n",
		"WEBVTT\n\nNOTE x\n\nSTYLE\n::cue{}\n\n00:00:00.000 --> 00:00:00.000\n\n",
		"WEBVTT\n\n99:59:59.999 --> 00:00:01.000\nbackwards\n",
		"not a vtt file",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseVTT(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, s := range tr.Segments {
			if math.IsNaN(s.Start) || math.IsNaN(s.End) || s.Start < 0 || s.End < s.Start {
				t.Fatalf("bad segment times %v..%v from %q", s.Start, s.End, data)
			}
		}
	})
}

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
