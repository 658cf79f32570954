package subtitle

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unicode"
)

// checkParsed checks what a parser accepted: sane cue times, and a transcript
// ordered by start whose spans never run backwards and whose text is words.
func checkParsed(t *testing.T, in string, cues []Cue, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrSyntax) {
			t.Fatalf("error %v does not wrap ErrSyntax", err)
		}
		return
	}
	for i, c := range cues {
		if math.IsNaN(c.Start) || math.IsNaN(c.End) || c.Start < 0 || c.End < 0 {
			t.Fatalf("cue %d has times %v, %v from %q", i, c.Start, c.End, in)
		}
	}
	tr := Transcript(cues, "en")
	var prev float64
	for i, s := range tr.Segments {
		if s.Start < prev || s.End < s.Start || s.End > tr.Duration {
			t.Fatalf("segment %d spans %v..%v after %v (duration %v) from %q", i, s.Start, s.End, prev, tr.Duration, in)
		}
		if s.Text == "" || strings.ContainsFunc(s.Text, unicode.IsControl) {
			t.Fatalf("segment %d text %q from %q", i, s.Text, in)
		}
		prev = s.Start
	}
}

// FuzzParseSRT: caption tracks are site-controlled input.
func FuzzParseSRT(f *testing.F) {
	f.Add("1\n00:00:01,000 --> 00:00:02,000\nHello\n")
	f.Add("1\n00:00:01,000 --> 00:00:02,000\n<i>a</i> <font color=\"red\">b</font> <3\n")
	f.Fuzz(func(t *testing.T, in string) {
		cues, err := ParseSRT(strings.NewReader(in))
		checkParsed(t, in, cues, err)
	})
}

// FuzzParseVTT: caption tracks are site-controlled input.
func FuzzParseVTT(f *testing.F) {
	for _, s := range []string{
		"WEBVTT\n\n00:01.000 --> 00:02.000\n<c>Hello</c>\n",
		"\ufeffWEBVTT Kind: captions\r\n\r\n1\r\n00:01.000 --> 00:02.000 align:start\r\n<00:00:01.500>Hi\r\n",
		"WEBVTT\n\nNOTE x\n\nSTYLE\n::cue{}\n\n00:00:00.000 --> 00:00:00.000\n\n",
		"WEBVTT\n\n99:59:59.999 --> 00:00:01.000\nbackwards\n",
		"WEBVTT\n\n00:01.000 --> 00:02.000\na\nb\n\n00:02.000 --> 00:03.000\nb\n\n00:03.000 --> 00:04.000\nb\nc\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cues, err := ParseVTT(strings.NewReader(in))
		checkParsed(t, in, cues, err)
	})
}
