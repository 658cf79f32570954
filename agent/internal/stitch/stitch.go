// Package stitch joins the partial transcripts of consecutive chunks of one
// medium into its canonical transcript. Chunks are cut at silences and do not
// overlap, so stitching is concatenation plus repair of the small timing
// overshoots recognizers make at a chunk's edges: every word of every part
// is kept exactly once, in order, and nothing is deduplicated.
package stitch

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Part is one chunk's partial transcript. Its times are absolute (offset by
// the chunk's Start already) and it covers [Start, End) of the medium.
type Part struct {
	Index      int
	Start, End float64
	Transcript api.Transcript
}

const (
	// contiguity is how far a part's Start may be from the previous End
	// (and the first Start from 0): sample rounding, float formatting.
	contiguity = 0.001
	// earlySlack and lateSlack are how far a time may fall before a part's
	// Start or after its End and be kept: recognizers overshoot a little,
	// mostly at the end. Beyond them a time is clamped into the part.
	earlySlack = 0.05
	lateSlack  = 0.25
	// maxTime is the latest time a renderable transcript may hold (the
	// caption package's MaxTime, which the agent cannot import).
	maxTime = 100*3600 - 1
)

// ErrParts is wrapped by every error Stitch returns: the parts do not make
// one contiguous medium.
var ErrParts = errors.New("parts do not tile the media")

// Stitch joins parts, in Index order, into one transcript.
//
// Segments are concatenated in order, those with neither words nor text
// dropped. A time outside its part's [Start-0.05, End+0.25] is clamped to
// [Start, End]; then each word and each segment starts no earlier than the
// previous word ended and ends no earlier than it starts, and segments start
// in order, so the result passes caption.Validate. No
// word is dropped or repeated. The same word at the end of one part and the
// start of the next is kept twice: cuts fall in silences and parts do not
// overlap, so it was spoken twice (a real repeat is likelier than a
// recognizer inventing an echo across a silence).
//
// Text is the segment texts joined by spaces. Language is the one covering
// the most duration among parts that name one (ties to the earliest).
// Duration is the last part's End, or a part's Start plus its transcript's
// Duration if that is later. Engine is the first part's that names one.
// Empty parts (silent chunks) are fine; no parts, repeated indexes, gaps,
// overlaps or invalid bounds are errors wrapping ErrParts.
func Stitch(parts []Part) (api.Transcript, error) {
	if len(parts) == 0 {
		return api.Transcript{}, fmt.Errorf("%w: no parts", ErrParts)
	}
	parts = slices.Clone(parts)
	slices.SortStableFunc(parts, func(a, b Part) int { return cmp.Compare(a.Index, b.Index) })
	prevEnd := 0.0
	for i, p := range parts {
		if !finite(p.Start) || !finite(p.End) || p.Start < 0 || p.End < p.Start || p.End > maxTime {
			return api.Transcript{}, fmt.Errorf("%w: part %d spans [%g, %g)", ErrParts, p.Index, p.Start, p.End)
		}
		if i > 0 && p.Index == parts[i-1].Index {
			return api.Transcript{}, fmt.Errorf("%w: two parts have index %d", ErrParts, p.Index)
		}
		if math.Abs(p.Start-prevEnd) > contiguity {
			return api.Transcript{}, fmt.Errorf("%w: part %d starts at %gs, want %gs", ErrParts, p.Index, p.Start, prevEnd)
		}
		prevEnd = p.End
	}

	out := api.Transcript{Duration: parts[len(parts)-1].End, Language: language(parts)}
	var texts []string
	var lastWordEnd, lastSegStart float64
	for _, p := range parts {
		t := p.Transcript
		if out.Engine == (api.EngineInfo{}) {
			out.Engine = t.Engine
		}
		if d := p.Start + t.Duration; finite(t.Duration) && d > out.Duration && d <= maxTime {
			out.Duration = d
		}
		fit := func(v float64) float64 { return fitTime(v, p.Start, p.End) }
		for _, s := range t.Segments {
			text := strings.TrimSpace(s.Text)
			if text == "" && len(s.Words) == 0 {
				continue
			}
			seg := api.Segment{Start: max(fit(s.Start), lastWordEnd), End: fit(s.End), Text: text}
			if len(s.Words) > 0 {
				seg.Words = make([]api.Word, len(s.Words))
			}
			for i, w := range s.Words {
				w.Start = max(fit(w.Start), lastWordEnd)
				w.End = max(fit(w.End), w.Start)
				if !finite(w.Confidence) {
					w.Confidence = 0
				}
				seg.Words[i] = w
				lastWordEnd = w.End
			}
			if n := len(seg.Words); n > 0 {
				seg.Start = min(seg.Start, seg.Words[0].Start)
				seg.End = max(seg.End, seg.Words[n-1].End)
			}
			seg.Start = max(seg.Start, lastSegStart)
			seg.End = max(seg.End, seg.Start)
			lastSegStart = seg.Start
			out.Segments = append(out.Segments, seg)
			if text != "" {
				texts = append(texts, text)
			}
		}
	}
	out.Text = strings.Join(texts, " ")
	return out, nil
}

// fitTime keeps v if it is within the slack of [start, end], else clamps it
// into [start, end]; the result is never negative nor beyond maxTime.
func fitTime(v, start, end float64) float64 {
	if math.IsNaN(v) || v < start-earlySlack {
		v = start
	} else if v > end+lateSlack {
		v = end
	}
	return min(max(v, 0), maxTime)
}

// language is the language covering the most duration among the parts
// naming one; ties go to the earliest part's.
func language(parts []Part) string {
	cover := map[string]float64{}
	var order []string
	for _, p := range parts {
		l := p.Transcript.Language
		if l == "" {
			continue
		}
		if _, seen := cover[l]; !seen {
			order = append(order, l)
		}
		cover[l] += p.End - p.Start
	}
	best := ""
	for _, l := range order {
		if best == "" || cover[l] > cover[best] {
			best = l
		}
	}
	return best
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
