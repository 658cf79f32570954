package caption

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// timedSegment builds a segment whose words follow each other from start,
// each lasting per seconds with a 50 ms gap; a word prefixed with "|" comes
// after a 1.5 s pause.
func timedSegment(start, per float64, text string) api.Segment {
	seg := api.Segment{Start: start}
	at := start
	var words []string
	for _, w := range strings.Fields(text) {
		if rest, ok := strings.CutPrefix(w, "|"); ok {
			at += 1.5
			w = rest
		}
		seg.Words = append(seg.Words, api.Word{Word: w, Start: round3(at), End: round3(at + per), Confidence: 0.9})
		words = append(words, w)
		at += per + 0.05
	}
	seg.End = round3(at - 0.05)
	seg.Text = strings.Join(words, " ")
	return seg
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func withWords() api.Transcript {
	segs := []api.Segment{
		timedSegment(0.5, 0.3, "Welcome back to the channel. Today we are looking at how captions are timed, and why it matters to people who read them."),
		timedSegment(12, 0.25, "Short one."),
		timedSegment(13, 0.3, "Companies like AT&T write <i>markup</i> sometimes; |others pause for a while before a supercalifragilisticexpialidocious word."),
		timedSegment(25, 0, "Instant"),
	}
	t := api.Transcript{Language: "en", Duration: 30, Segments: segs, Engine: api.EngineInfo{Name: "pocketsphinx", Model: "en-us", Origin: "asr"}}
	var texts []string
	for _, s := range segs {
		texts = append(texts, s.Text)
	}
	t.Text = strings.Join(texts, " ")
	return t
}

func withoutWords() api.Transcript {
	t := withWords()
	for i := range t.Segments {
		t.Segments[i].Words = nil
	}
	return t
}

func TestGolden(t *testing.T) {
	t.Parallel()
	transcripts := map[string]api.Transcript{"words": withWords(), "nowords": withoutWords()}
	layouts := map[string]Layout{"default": {}, "narrow": {MaxChars: 20, MaxLines: 1}, "wide": {MaxChars: 60, MaxLines: 3}}
	for tname, tr := range transcripts {
		for lname, l := range layouts {
			for _, format := range []string{FormatSRT, FormatVTT} {
				name := tname + "_" + lname + "." + format
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					var buf bytes.Buffer
					if err := Render(&buf, tr, format, l); err != nil {
						t.Fatal(err)
					}
					golden(t, name, buf.Bytes())
				})
			}
		}
		for _, format := range []string{FormatText, FormatJSON} {
			name := tname + "." + format
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var buf bytes.Buffer
				if err := Render(&buf, tr, format, Layout{}); err != nil {
					t.Fatal(err)
				}
				golden(t, name, buf.Bytes())
			})
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update if the change is intended)\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestRenderRejects(t *testing.T) {
	t.Parallel()
	good := withWords()
	bad := withWords()
	bad.Segments[1].Start = math.NaN()
	tests := []struct {
		name   string
		t      api.Transcript
		format string
		layout Layout
		want   error
	}{
		{"unknown format", good, "docx", Layout{}, ErrUnknownFormat},
		{"format is case sensitive", good, "SRT", Layout{}, ErrUnknownFormat},
		{"empty format", good, "", Layout{}, ErrUnknownFormat},
		{"negative chars", good, FormatSRT, Layout{MaxChars: -1}, ErrInvalidLayout},
		{"too many chars", good, FormatVTT, Layout{MaxChars: LimitMaxChars + 1}, ErrInvalidLayout},
		{"negative lines", good, FormatSRT, Layout{MaxLines: -3}, ErrInvalidLayout},
		{"too many lines", good, FormatSRT, Layout{MaxLines: LimitMaxLines + 1}, ErrInvalidLayout},
		{"invalid transcript", bad, FormatJSON, Layout{}, ErrInvalidTranscript},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			err := Render(&buf, tt.t, tt.format, tt.layout)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Render error = %v, want %v", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Render wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format, contentType string
	}{
		{FormatSRT, "application/x-subrip; charset=utf-8"},
		{FormatVTT, "text/vtt; charset=utf-8"},
		{FormatText, "text/plain; charset=utf-8"},
		{FormatJSON, "application/json"},
	}
	if len(Formats()) != len(tests) {
		t.Fatalf("Formats() = %v, want the %d formats below", Formats(), len(tests))
	}
	for i, tt := range tests {
		if Formats()[i] != tt.format {
			t.Errorf("Formats()[%d] = %q, want %q", i, Formats()[i], tt.format)
		}
		if err := CheckFormat(tt.format); err != nil {
			t.Errorf("CheckFormat(%q) = %v", tt.format, err)
		}
		if got := ContentType(tt.format); got != tt.contentType {
			t.Errorf("ContentType(%q) = %q, want %q", tt.format, got, tt.contentType)
		}
	}
	if got := ContentType("pdf"); got != "application/octet-stream" {
		t.Errorf("ContentType(pdf) = %q", got)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderWriteError(t *testing.T) {
	t.Parallel()
	for _, format := range Formats() {
		if err := Render(failingWriter{}, withWords(), format, Layout{}); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s: Render error = %v, want the writer's error", format, err)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	extra := withWords()
	extra.Extra = map[string]any{"title": "A <video> & more", "views": 12.0, "tags": []any{"a", "b"}}
	tests := []struct {
		name string
		t    api.Transcript
	}{
		{"words", withWords()},
		{"no words", withoutWords()},
		{"extra", extra},
		{"empty", api.Transcript{Segments: []api.Segment{}}},
		{"odd floats", api.Transcript{Duration: 0.1 + 0.2, Segments: []api.Segment{{Start: 1e-9, End: 1.0 / 3, Text: "x\u2028y\"z"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := Render(&buf, tt.t, FormatJSON, Layout{}); err != nil {
				t.Fatal(err)
			}
			var got api.Transcript
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.t) {
				t.Errorf("round trip changed the transcript:\ngot  %+v\nwant %+v", got, tt.t)
			}
		})
	}
}

func TestJSONNilSegments(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := Render(&buf, api.Transcript{Language: "en"}, FormatJSON, Layout{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"segments":[]`) {
		t.Errorf("nil segments rendered as %s, want an empty list", buf.String())
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		t    api.Transcript
		want string
	}{
		{"segments", api.Transcript{Segments: []api.Segment{{Text: " Hello\tthere. "}, {Text: ""}, {Text: "Bye\nnow"}}}, "Hello there.\nBye now\n"},
		{"words when no text", api.Transcript{Segments: []api.Segment{{Words: []api.Word{{Word: " Hi"}, {Word: "you "}}}}}, "Hi you\n"},
		{"transcript text without segments", api.Transcript{Text: "just  text"}, "just text\n"},
		{"nothing", api.Transcript{}, ""},
		{"no escaping", api.Transcript{Segments: []api.Segment{{Text: "a < b & c"}}}, "a < b & c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := Render(&buf, tt.t, FormatText, Layout{}); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("got %q, want %q", buf.String(), tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	seg := func(start, end float64, words ...api.Word) api.Segment {
		return api.Segment{Start: start, End: end, Text: "x", Words: words}
	}
	word := func(start, end float64) api.Word { return api.Word{Word: "x", Start: start, End: end} }
	tests := []struct {
		name    string
		t       api.Transcript
		wantErr string // "" means valid
	}{
		{"empty", api.Transcript{}, ""},
		{"good", withWords(), ""},
		{"zero length segment and word", api.Transcript{Segments: []api.Segment{seg(1, 1, word(1, 1))}}, ""},
		{"overlapping segments", api.Transcript{Segments: []api.Segment{seg(0, 5), seg(3, 4)}}, ""},
		{"words outside their segment", api.Transcript{Segments: []api.Segment{seg(2, 3, word(1, 4))}}, ""},
		{"max time", api.Transcript{Duration: MaxTime, Segments: []api.Segment{seg(MaxTime, MaxTime)}}, ""},
		{"NaN duration", api.Transcript{Duration: math.NaN()}, "duration is not a finite"},
		{"infinite end", api.Transcript{Segments: []api.Segment{seg(0, math.Inf(1))}}, "segment 0 end is not a finite"},
		{"negative start", api.Transcript{Segments: []api.Segment{seg(-0.1, 1)}}, "segment 0 start is negative"},
		{"beyond max time", api.Transcript{Segments: []api.Segment{seg(0, MaxTime+1)}}, "beyond"},
		{"end before start", api.Transcript{Segments: []api.Segment{seg(2, 1)}}, "segment 0 ends"},
		{"segments out of order", api.Transcript{Segments: []api.Segment{seg(5, 6), seg(4, 7)}}, "segment 1 starts at 4s, before"},
		{"word end before start", api.Transcript{Segments: []api.Segment{seg(0, 9, word(3, 2))}}, "segment 0 word 0 ends"},
		{"words out of order", api.Transcript{Segments: []api.Segment{seg(0, 9, word(3, 4), word(2, 5))}}, "segment 0 word 1 starts"},
		{"negative word", api.Transcript{Segments: []api.Segment{seg(0, 9, word(-1, 4))}}, "word 0 start is negative"},
		{"NaN confidence", api.Transcript{Segments: []api.Segment{seg(0, 9, api.Word{Word: "x", Confidence: math.NaN()})}}, "confidence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Validate(tt.t)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidTranscript) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want ErrInvalidTranscript mentioning %q", err, tt.wantErr)
			}
		})
	}
}
