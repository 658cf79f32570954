package caption

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/internal/subtitle"
)

// A human-made track as a site publishes it: header fields, identifiers,
// settings, markup and a character reference.
const trackVTT = "WEBVTT\nKind: captions\nLanguage: en\n\n" +
	"1\n00:00:00.160 --> 00:00:02.350 align:start position:0%\n<v Host>hello world</v> again\n\n" +
	"2\n00:00:02.360 --> 00:00:04.000\n<c.colorE5E5E5>next</c> words &amp; more\n"

// A caption track read back and rendered again shows the same text at the
// same times when it already fits the layout.
func TestCaptionTrackRoundTrip(t *testing.T) {
	t.Parallel()
	cues, err := subtitle.ParseVTT(strings.NewReader(trackVTT))
	if err != nil {
		t.Fatal(err)
	}
	tr := subtitle.Transcript(cues, "en")
	if err := Validate(tr); err != nil {
		t.Fatal(err)
	}
	if err := checkRender(tr, Layout{}); err != nil {
		t.Fatal(err)
	}
	got := BuildCues(tr, Layout{MaxChars: 42, MaxLines: 1})
	want := []Cue{{Start: 0.16, End: 2.35, Text: "hello world again"}, {Start: 2.36, End: 4, Text: "next words & more"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
