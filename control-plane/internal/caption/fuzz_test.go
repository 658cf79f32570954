package caption

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// checkParsed checks cues from a parser that accepted its input and, when
// they make a valid transcript, that it renders to captions that parse.
func checkParsed(t *testing.T, cues []Cue) {
	t.Helper()
	for i, c := range cues {
		if math.IsNaN(c.Start) || math.IsNaN(c.End) || c.Start < 0 || c.End < 0 {
			t.Fatalf("cue %d has times %v, %v", i, c.Start, c.End)
		}
	}
	tr := CuesToTranscript(cues, "en")
	if err := Validate(tr); err != nil {
		if !errors.Is(err, ErrInvalidTranscript) {
			t.Fatalf("Validate error %v does not wrap ErrInvalidTranscript", err)
		}
		return
	}
	if err := checkRender(tr, Layout{}); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseSRT(f *testing.F) {
	f.Add("1\n00:00:01,000 --> 00:00:02,000\nHello\n")
	f.Fuzz(func(t *testing.T, in string) {
		cues, err := ParseSRT(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		checkParsed(t, cues)
	})
}

func FuzzParseVTT(f *testing.F) {
	f.Add("WEBVTT\n\n00:01.000 --> 00:02.000\n<c>Hello</c>\n")
	f.Fuzz(func(t *testing.T, in string) {
		cues, err := ParseVTT(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		checkParsed(t, cues)
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
