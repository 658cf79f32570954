package stitch

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

var engine = api.EngineInfo{Name: "pocketsphinx", Model: "en-us", Origin: "asr"}

// seg makes a segment of the words of text, each per seconds long with no
// gap, from start.
func seg(start, per float64, text string) api.Segment {
	s := api.Segment{Start: start, Text: text}
	at := start
	for _, w := range strings.Fields(text) {
		s.Words = append(s.Words, api.Word{Word: w, Start: at, End: at + per, Confidence: 0.8})
		at += per
	}
	s.End = at
	return s
}

func part(index int, start, end float64, segs ...api.Segment) Part {
	return Part{Index: index, Start: start, End: end, Transcript: api.Transcript{
		Language: "en", Duration: end - start, Segments: segs, Engine: engine}}
}

// allWords lists the words of segments in order.
func allWords(segs []api.Segment) []string {
	var out []string
	for _, s := range segs {
		for _, w := range s.Words {
			out = append(out, w.Word)
		}
	}
	return out
}

// inputWords lists the words of parts in Index order.
func inputWords(parts []Part) []string {
	parts = slices.Clone(parts)
	slices.SortStableFunc(parts, func(a, b Part) int { return a.Index - b.Index })
	var out []string
	for _, p := range parts {
		out = append(out, allWords(p.Transcript.Segments)...)
	}
	return out
}

type span struct{ Start, End float64 }

func wordSpans(t api.Transcript) []span {
	var out []span
	for _, s := range t.Segments {
		for _, w := range s.Words {
			out = append(out, span{w.Start, w.End})
		}
	}
	return out
}

func segSpans(t api.Transcript) []span {
	var out []span
	for _, s := range t.Segments {
		out = append(out, span{s.Start, s.End})
	}
	return out
}

func TestStitch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		parts    []Part
		text     string
		language string
		duration float64
		words    []span // nil: not checked
		segs     []span // nil: not checked
	}{
		{
			name: "two parts concatenate",
			parts: []Part{
				part(0, 0, 10, seg(1, 0.5, "hello there"), seg(3, 0.5, "general")),
				part(1, 10, 20, seg(11, 0.5, "you are"), seg(15, 0.5, "bold")),
			},
			text: "hello there general you are bold", language: "en", duration: 20,
			words: []span{{1, 1.5}, {1.5, 2}, {3, 3.5}, {11, 11.5}, {11.5, 12}, {15, 15.5}},
			segs:  []span{{1, 2}, {3, 3.5}, {11, 12}, {15, 15.5}},
		},
		{
			name: "sorted by index",
			parts: []Part{
				part(2, 20, 30, seg(21, 1, "three")),
				part(0, 0, 10, seg(1, 1, "one")),
				part(1, 10, 20, seg(11, 1, "two")),
			},
			text: "one two three", language: "en", duration: 30,
			words: []span{{1, 2}, {11, 12}, {21, 22}},
		},
		{
			name: "silent parts are fine",
			parts: []Part{
				part(0, 0, 10, seg(1, 1, "one")),
				{Index: 1, Start: 10, End: 20},
				part(2, 20, 30, seg(21, 1, "three")),
				{Index: 3, Start: 30, End: 40, Transcript: api.Transcript{Language: "en", Segments: []api.Segment{{Start: 31, End: 32, Text: " "}}}},
			},
			text: "one three", language: "en", duration: 40,
			words: []span{{1, 2}, {21, 22}},
		},
		{
			name: "small overshoot is kept, the next part's word waits for it",
			parts: []Part{
				part(0, 0, 10, api.Segment{Start: 9, End: 10.2, Text: "over", Words: []api.Word{{Word: "over", Start: 9, End: 10.2}}}),
				part(1, 10, 20, api.Segment{Start: 9.97, End: 10.5, Text: "next", Words: []api.Word{{Word: "next", Start: 9.97, End: 10.5}}}),
			},
			text: "over next", language: "en", duration: 20,
			words: []span{{9, 10.2}, {10.2, 10.5}},
			segs:  []span{{9, 10.2}, {10.2, 10.5}},
		},
		{
			name: "large overshoot is clamped into the part",
			parts: []Part{
				part(0, 0, 10, api.Segment{Start: 9, End: 12, Text: "long", Words: []api.Word{{Word: "long", Start: 9, End: 12}}}),
				part(1, 10, 20, api.Segment{Start: 8, End: 10.5, Text: "early", Words: []api.Word{{Word: "early", Start: 8, End: 10.5}}}),
			},
			text: "long early", language: "en", duration: 20,
			words: []span{{9, 10}, {10, 10.5}},
			segs:  []span{{9, 10}, {10, 10.5}},
		},
		{
			name: "a word starting and ending past its part sits at the part's end",
			parts: []Part{
				part(0, 0, 10, seg(1, 1, "one"), api.Segment{Start: 11, End: 12, Text: "ghost", Words: []api.Word{{Word: "ghost", Start: 11, End: 12}}}),
				part(1, 10, 20, seg(10.5, 1, "two")),
			},
			text: "one ghost two", language: "en", duration: 20,
			words: []span{{1, 2}, {10, 10}, {10.5, 11.5}},
		},
		{
			name: "a word before the media start goes to 0",
			parts: []Part{
				part(0, 0, 10, api.Segment{Start: -0.04, End: 1, Text: "hi", Words: []api.Word{{Word: "hi", Start: -0.04, End: 1}}}),
				part(1, 10, 20),
			},
			text: "hi", language: "en", duration: 20,
			words: []span{{0, 1}},
			segs:  []span{{0, 1}},
		},
		{
			name: "overlapping words within a part are made monotonic",
			parts: []Part{
				part(0, 0, 10, api.Segment{Start: 1, End: 3, Text: "a b c", Words: []api.Word{
					{Word: "a", Start: 1, End: 2}, {Word: "b", Start: 1.5, End: 1.8}, {Word: "c", Start: 0.5, End: 3}}}),
				part(1, 10, 20),
			},
			text: "a b c", language: "en", duration: 20,
			words: []span{{1, 2}, {2, 2}, {2, 3}},
			segs:  []span{{1, 3}},
		},
		{
			name: "a repeated word across the boundary is kept twice",
			parts: []Part{
				part(0, 0, 10, seg(9, 0.5, "the the")),
				part(1, 10, 20, seg(10, 0.5, "the end")),
			},
			text: "the the the end", language: "en", duration: 20,
			words: []span{{9, 9.5}, {9.5, 10}, {10, 10.5}, {10.5, 11}},
		},
		{
			name: "segments without words keep their text; empty ones go",
			parts: []Part{
				part(0, 0, 10, api.Segment{Start: 1, End: 2, Text: " spoken "}, api.Segment{Start: 3, End: 4}, api.Segment{Start: 5, End: 6, Text: "\t"}),
				part(1, 10, 20, api.Segment{Start: 12, End: 13, Text: "words", Words: []api.Word{{Word: "words", Start: 12, End: 13}}}),
			},
			text: "spoken words", language: "en", duration: 20,
			segs: []span{{1, 2}, {12, 13}},
		},
		{
			name: "a segment with words and no text is kept",
			parts: []Part{
				part(0, 0, 10, api.Segment{Start: 1, End: 2, Words: []api.Word{{Word: "mute", Start: 1, End: 2}}}),
				part(1, 10, 20, seg(11, 1, "loud")),
			},
			text: "loud", language: "en", duration: 20,
			words: []span{{1, 2}, {11, 12}},
		},
		{
			name: "the language covering the most time wins",
			parts: []Part{
				{Index: 0, Start: 0, End: 5},
				{Index: 1, Start: 5, End: 10, Transcript: api.Transcript{Language: "en"}},
				{Index: 2, Start: 10, End: 30, Transcript: api.Transcript{Language: "de"}},
				{Index: 3, Start: 30, End: 40, Transcript: api.Transcript{Language: "en"}},
			},
			language: "de", duration: 40,
		},
		{
			name: "a language tie goes to the earliest",
			parts: []Part{
				{Index: 0, Start: 0, End: 10, Transcript: api.Transcript{Language: "fr"}},
				{Index: 1, Start: 10, End: 20, Transcript: api.Transcript{Language: "en"}},
			},
			language: "fr", duration: 20,
		},
		{
			name: "a longer transcript duration extends the result",
			parts: []Part{
				part(0, 0, 10),
				{Index: 1, Start: 10, End: 20, Transcript: api.Transcript{Duration: 10.4}},
			},
			language: "en", duration: 20.4,
		},
		{
			name: "starts within a millisecond are contiguous",
			parts: []Part{
				part(0, 0.0009, 10, seg(1, 1, "one")),
				part(1, 10.0009, 20, seg(11, 1, "two")),
			},
			text: "one two", language: "en", duration: 20,
		},
		{
			name: "non-finite times and confidences are repaired",
			parts: []Part{
				part(0, 0, 10, api.Segment{Start: math.NaN(), End: math.Inf(1), Text: "odd", Words: []api.Word{
					{Word: "odd", Start: math.NaN(), End: math.Inf(1), Confidence: math.NaN()},
					{Word: "times", Start: math.Inf(-1), End: 3, Confidence: math.Inf(1)}}}),
			},
			text: "odd", language: "en", duration: 10,
			words: []span{{0, 10}, {10, 10}},
			segs:  []span{{0, 10}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Stitch(tt.parts)
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != tt.text || got.Language != tt.language || got.Duration != tt.duration || got.Extra != nil {
				t.Errorf("text %q language %q duration %v extra %v, want %q %q %v nil",
					got.Text, got.Language, got.Duration, got.Extra, tt.text, tt.language, tt.duration)
			}
			if tt.words != nil && !reflect.DeepEqual(wordSpans(got), tt.words) {
				t.Errorf("words %v, want %v", wordSpans(got), tt.words)
			}
			if tt.segs != nil && !reflect.DeepEqual(segSpans(got), tt.segs) {
				t.Errorf("segments %v, want %v", segSpans(got), tt.segs)
			}
			if err := checkStitched(tt.parts, got); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestStitchEngine(t *testing.T) {
	t.Parallel()
	other := api.EngineInfo{Name: "whisper"}
	got, err := Stitch([]Part{
		{Index: 0, Start: 0, End: 10},
		{Index: 1, Start: 10, End: 20, Transcript: api.Transcript{Engine: engine}},
		{Index: 2, Start: 20, End: 30, Transcript: api.Transcript{Engine: other}},
	})
	if err != nil || got.Engine != engine {
		t.Errorf("engine = %+v, %v; want %+v", got.Engine, err, engine)
	}
}

func TestStitchRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		parts []Part
	}{
		{"no parts", nil},
		{"first part not at 0", []Part{part(0, 0.5, 10)}},
		{"gap", []Part{part(0, 0, 10), part(1, 10.01, 20)}},
		{"overlap", []Part{part(0, 0, 10), part(1, 9.9, 20)}},
		{"missing part", []Part{part(0, 0, 10), part(2, 20, 30)}},
		{"same index twice", []Part{part(0, 0, 10), part(0, 10, 20)}},
		{"end before start", []Part{part(0, 0, 10), part(1, 10, 5)}},
		{"NaN end", []Part{part(0, 0, math.NaN())}},
		{"infinite end", []Part{part(0, 0, math.Inf(1))}},
		{"beyond the longest media", []Part{part(0, 0, 400000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := Stitch(tt.parts); !errors.Is(err, ErrParts) {
				t.Errorf("Stitch = %+v, %v; want an error wrapping ErrParts", got, err)
			}
		})
	}
}

// checkStitched checks what Stitch promises for any valid parts: every input
// word exactly once and in order, monotonic word times, segment starts in
// order, and a transcript the caption renderer accepts.
func checkStitched(parts []Part, got api.Transcript) error {
	want := inputWords(parts)
	have := allWords(got.Segments)
	if len(have) != len(want) || !slices.Equal(have, want) {
		return fmt.Errorf("words %q, want %q (%d vs %d)", have, want, len(have), len(want))
	}
	prevEnd, prevSeg := 0.0, 0.0
	for i, s := range got.Segments {
		if s.Start < prevSeg || s.End < s.Start {
			return fmt.Errorf("segment %d [%v, %v] after a segment starting at %v", i, s.Start, s.End, prevSeg)
		}
		prevSeg = s.Start
		if strings.TrimSpace(s.Text) == "" && len(s.Words) == 0 {
			return fmt.Errorf("segment %d is empty", i)
		}
		for j, w := range s.Words {
			if w.Start < prevEnd || w.End < w.Start {
				return fmt.Errorf("segment %d word %d [%v, %v] after a word ending at %v", i, j, w.Start, w.End, prevEnd)
			}
			prevEnd = w.End
		}
	}
	return validate(got)
}

// validate applies the rules of caption.Validate, which the control plane
// runs on every transcript it renders (its package is internal to the
// control plane, so the agent cannot call it): finite times within
// [0, 100 h), spans that end no earlier than they start, segments ordered by
// start and the words of a segment too, finite confidences.
func validate(t api.Transcript) error {
	const maxTime = 100*3600 - 1
	check := func(what string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > maxTime {
			return fmt.Errorf("invalid transcript: %s = %v", what, v)
		}
		return nil
	}
	if err := check("duration", t.Duration); err != nil {
		return err
	}
	prev := 0.0
	for i, s := range t.Segments {
		for _, err := range []error{check(fmt.Sprintf("segment %d start", i), s.Start), check(fmt.Sprintf("segment %d end", i), s.End)} {
			if err != nil {
				return err
			}
		}
		if s.End < s.Start || s.Start < prev {
			return fmt.Errorf("invalid transcript: segment %d [%v, %v] after a start of %v", i, s.Start, s.End, prev)
		}
		prev = s.Start
		wprev := 0.0
		for j, w := range s.Words {
			for _, err := range []error{check(fmt.Sprintf("segment %d word %d start", i, j), w.Start), check(fmt.Sprintf("segment %d word %d end", i, j), w.End)} {
				if err != nil {
					return err
				}
			}
			if w.End < w.Start || w.Start < wprev || math.IsNaN(w.Confidence) || math.IsInf(w.Confidence, 0) {
				return fmt.Errorf("invalid transcript: segment %d word %d %+v", i, j, w)
			}
			wprev = w.Start
		}
	}
	return nil
}

// randomParts tiles up to n parts over random lengths and fills them with
// words whose times stray around and beyond their part, as a sloppy
// recognizer's would.
func randomParts(r *rand.Rand, n int) []Part {
	var parts []Part
	at := 0.0
	for i := range max(n, 1) {
		length := r.Float64() * 60
		p := Part{Index: i, Start: at, End: at + length}
		if r.IntN(2) == 0 {
			p.Transcript.Language = []string{"en", "de", ""}[r.IntN(3)]
			p.Transcript.Duration = length + r.NormFloat64()
		}
		for range r.IntN(4) {
			var s api.Segment
			s.Start = at + r.Float64()*(length+1) - 0.5
			s.End = s.Start + r.Float64()*5
			if r.IntN(5) > 0 {
				s.Text = fmt.Sprintf("segment %d", r.IntN(100))
			}
			for range r.IntN(6) {
				w := api.Word{Word: fmt.Sprintf("w%d", r.IntN(1000)), Confidence: r.Float64()}
				w.Start = at + r.Float64()*(length+2) - 1
				w.End = w.Start + r.NormFloat64()
				switch r.IntN(20) {
				case 0:
					w.Start = math.NaN()
				case 1:
					w.End = math.Inf(1)
				case 2:
					w.Confidence = math.NaN()
				}
				s.Words = append(s.Words, w)
			}
			p.Transcript.Segments = append(p.Transcript.Segments, s)
		}
		parts = append(parts, p)
		at = p.End
	}
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return parts
}

func FuzzStitch(f *testing.F) {
	for seed := range uint64(10) {
		f.Add(seed, uint8(seed))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		parts := randomParts(rand.New(rand.NewPCG(seed, 1)), int(n%32))
		got, err := Stitch(parts)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkStitched(parts, got); err != nil {
			t.Fatal(err)
		}
	})
}
