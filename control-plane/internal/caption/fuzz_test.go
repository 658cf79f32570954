package caption

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/subtitle"
)

// FuzzCaptionTrack: a caption track an agent reads (SRT, or WebVTT when it
// says so) makes a transcript that, when it is valid, renders to captions that
// parse back.
func FuzzCaptionTrack(f *testing.F) {
	f.Add("1\n00:00:01,000 --> 00:00:02,000\n<i>Hello</i> &amp; bye\n")
	f.Add("WEBVTT\n\n00:01.000 --> 00:02.000\n<c>Hello</c> &lt;3\n")
	f.Add(trackVTT)
	f.Fuzz(func(t *testing.T, in string) {
		parse := subtitle.ParseSRT
		if strings.HasPrefix(strings.TrimPrefix(in, "\uFEFF"), "WEBVTT") {
			parse = subtitle.ParseVTT
		}
		cues, err := parse(strings.NewReader(in))
		if err != nil {
			return
		}
		tr := subtitle.Transcript(cues, "en")
		if err := Validate(tr); err != nil {
			if !errors.Is(err, ErrInvalidTranscript) {
				t.Fatalf("Validate error %v does not wrap ErrInvalidTranscript", err)
			}
			return
		}
		if err := checkRender(tr, Layout{}); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzRender(f *testing.F) {
	f.Add([]byte(`{"segments":[{"start":0,"end":1,"text":"hi & bye"}]}`), 42, 2)
	f.Fuzz(func(t *testing.T, data []byte, maxChars, maxLines int) {
		var tr api.Transcript
		if json.Unmarshal(data, &tr) != nil {
			return
		}
		l := Layout{MaxChars: maxChars, MaxLines: maxLines}
		if l.Check() != nil {
			if err := Render(&bytes.Buffer{}, tr, FormatSRT, l); !errors.Is(err, ErrInvalidLayout) {
				t.Fatalf("Render with layout %+v: error %v, want ErrInvalidLayout", l, err)
			}
			return
		}
		if Validate(tr) != nil {
			for _, format := range Formats() {
				if err := Render(&bytes.Buffer{}, tr, format, l); !errors.Is(err, ErrInvalidTranscript) {
					t.Fatalf("%s: Render of an invalid transcript: error %v, want ErrInvalidTranscript", format, err)
				}
			}
			return
		}
		if err := checkRender(tr, l); err != nil {
			t.Fatal(err)
		}
		for _, format := range []string{FormatText, FormatJSON} {
			if err := Render(&bytes.Buffer{}, tr, format, l); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
		}
	})
}
