package caption

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/subtitle"
)

// Cue is one caption on screen, as the renderers lay it out and as the
// subtitle parsers read it back.
type Cue = subtitle.Cue

const (
	// pauseGap is the silence between words that ends a cue even when it has
	// room: text should not linger over a pause or appear before speech.
	pauseGap = 1.0
	// minCueMS is the length given to a cue that would otherwise have none.
	minCueMS = 200
	// minBreakGap is the shortest silence between words that counts as a
	// phrase boundary when a full cue has no punctuation to break at.
	minBreakGap = 0.15
)

// token is one word to place, with its time span in seconds.
type token struct {
	text       string
	start, end float64
}

// BuildCues lays a transcript out as caption cues. Cues never span a segment
// boundary; within a segment a cue ends when the next word would exceed the
// layout (backing off to the last punctuation in its second half, else to
// its longest pause there), or at a long pause. Word timings are used where
// present; otherwise a segment's time is shared among its words in
// proportion to their length. The result is in order, without overlaps,
// every cue at least 1 ms long and non-empty; a word longer than MaxChars
// gets a line of its own. t should pass Validate.
func BuildCues(t api.Transcript, l Layout) []Cue {
	l = l.WithDefaults()
	l.MaxChars = max(l.MaxChars, 1)
	l.MaxLines = max(l.MaxLines, 1)
	var cues []msCue
	for _, s := range t.Segments {
		cues = appendSegmentCues(cues, segmentTokens(s), l)
	}
	fixTimes(cues)
	out := make([]Cue, len(cues))
	for i, c := range cues {
		out[i] = Cue{Start: float64(c.start) / 1000, End: float64(c.end) / 1000, Text: c.text}
	}
	return out
}

// msCue is a cue with times in whole milliseconds, the precision of SRT and
// VTT, so that the ordering guarantees hold for the written times.
type msCue struct {
	start, end int64
	text       string
}

func toMS(sec float64) int64 { return int64(math.Round(sec * 1000)) }

// segmentTokens returns the words of a segment with their times: its word
// timings if any word has text, else its text spread over its span.
func segmentTokens(s api.Segment) []token {
	var out []token
	for _, w := range s.Words {
		out = append(out, spread(w.Word, w.Start, w.End)...)
	}
	if len(out) == 0 {
		out = spread(s.Text, s.Start, s.End)
	}
	return out
}

// spread splits text into tokens and shares [start, end] among them in
// proportion to their length (one extra unit each for the following space).
func spread(text string, start, end float64) []token {
	words := subtitle.Words(text)
	switch len(words) {
	case 0:
		return nil
	case 1:
		return []token{{words[0], start, end}}
	}
	total := 0
	for _, w := range words {
		total += utf8.RuneCountInString(w) + 1
	}
	out := make([]token, len(words))
	span := end - start
	cum := 0
	for i, w := range words {
		s := start + span*float64(cum)/float64(total)
		cum += utf8.RuneCountInString(w) + 1
		e := start + span*float64(cum)/float64(total)
		if i == len(words)-1 {
			e = end
		}
		out[i] = token{w, s, e}
	}
	return out
}

// appendSegmentCues lays out one segment's tokens greedily.
func appendSegmentCues(cues []msCue, toks []token, l Layout) []msCue {
	var pending []token
	var fill lineFill
	for _, tok := range toks {
		if len(pending) > 0 && tok.start-pending[len(pending)-1].end >= pauseGap {
			cues = append(cues, makeCue(pending, l))
			pending, fill = nil, lineFill{}
		}
		for len(pending) > 0 && fill.with(tok.text, l.MaxChars).lines > l.MaxLines {
			k := breakPoint(pending)
			cues = append(cues, makeCue(pending[:k], l))
			pending = append([]token(nil), pending[k:]...)
			fill = lineFill{}
			for _, p := range pending {
				fill = fill.with(p.text, l.MaxChars)
			}
		}
		pending = append(pending, tok)
		fill = fill.with(tok.text, l.MaxChars)
	}
	if len(pending) > 0 {
		cues = append(cues, makeCue(pending, l))
	}
	return cues
}

// lineFill tracks greedy wrapping as tokens are appended (the same rule as
// wrap), so testing whether one more token fits costs O(1).
type lineFill struct {
	lines int // lines used
	n     int // runes on the last line
}

func (f lineFill) with(text string, maxChars int) lineFill {
	tn := utf8.RuneCountInString(text)
	switch {
	case f.lines == 0:
		return lineFill{1, tn}
	case f.n+1+tn > maxChars:
		return lineFill{f.lines + 1, tn}
	default:
		return lineFill{f.lines, f.n + 1 + tn}
	}
}

// breakPoint is where to end a full cue, among the positions that keep at
// least half the cue's text: after the last token that ends with punctuation;
// else at the longest pause between words, if one lasts at least minBreakGap
// (recognizers such as pocketsphinx write no punctuation, and a pause is the
// next best sign of a phrase boundary); else after all of it.
func breakPoint(toks []token) int {
	total := 0
	for _, t := range toks {
		total += utf8.RuneCountInString(t.text) + 1
	}
	prefix := total
	pause, widest := 0, minBreakGap
	for k := len(toks) - 1; k >= 1; k-- {
		prefix -= utf8.RuneCountInString(toks[k].text) + 1
		if 2*prefix < total {
			break
		}
		if endsWithPunct(toks[k-1].text) {
			return k
		}
		// Strictly wider, so of equal pauses the later one wins and the
		// cue keeps more text.
		if gap := toks[k].start - toks[k-1].end; gap > widest || (pause == 0 && gap >= widest) {
			pause, widest = k, gap
		}
	}
	if pause > 0 {
		return pause
	}
	return len(toks)
}

func endsWithPunct(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return strings.ContainsRune(".,;:!?…。，、！？；：", r)
}

// wrap fills lines greedily up to maxChars runes; a token that does not fit
// on any line alone takes a line of its own.
func wrap(toks []token, maxChars int) []string {
	var lines []string
	var cur strings.Builder
	n := 0
	for _, t := range toks {
		tn := utf8.RuneCountInString(t.text)
		if n > 0 && n+1+tn > maxChars {
			lines = append(lines, cur.String())
			cur.Reset()
			n = 0
		}
		if n > 0 {
			cur.WriteByte(' ')
			n++
		}
		cur.WriteString(t.text)
		n += tn
	}
	if n > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

func makeCue(toks []token, l Layout) msCue {
	end := toks[0].end
	for _, t := range toks[1:] {
		end = max(end, t.end)
	}
	return msCue{
		start: toMS(toks[0].start),
		end:   toMS(end),
		text:  strings.Join(wrap(toks, l.MaxChars), "\n"),
	}
}

// fixTimes makes cues ordered and disjoint with start < end. A cue that runs
// into the next one is cut at its start (speech onset matters more than the
// tail); a cue that starts before the previous ends is pushed back; a cue of
// no length gets minCueMS, cut short by the next cue if that starts sooner.
func fixTimes(cues []msCue) {
	for i := range cues {
		c := &cues[i]
		if i > 0 && c.start < cues[i-1].end {
			c.start = cues[i-1].end
		}
		limit := int64(-1)
		if i+1 < len(cues) && cues[i+1].start > c.start {
			limit = cues[i+1].start
		}
		if limit >= 0 && c.end > limit {
			c.end = limit
		}
		if c.end <= c.start {
			c.end = c.start + minCueMS
			if limit >= 0 && c.end > limit {
				c.end = limit
			}
		}
	}
}
