package subtitle

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Transcript turns caption cues into a transcript in language lang: one
// segment per cue with text (lines joined by spaces, SRT's formatting tags
// removed, no word timings: tracks have none), ordered by start, an end never
// before its start. Rolling captions, where each cue repeats the last line of
// the one before, are reduced to the new lines; a cue that only repeats
// extends the previous segment. Duration is the last end.
func Transcript(cues []Cue, lang string) api.Transcript {
	sorted := slices.Clone(cues)
	slices.SortStableFunc(sorted, func(a, b Cue) int { return cmp.Compare(a.Start, b.Start) })
	t := api.Transcript{Language: lang, Segments: []api.Segment{}}
	var prevLast string // the last line of the previous segment
	for _, c := range sorted {
		var lines []string
		for line := range strings.SplitSeq(stripFormatting(c.Text), "\n") {
			if l := strings.Join(Words(line), " "); l != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) == 0 {
			continue
		}
		end := max(c.End, c.Start)
		for len(lines) > 0 && len(t.Segments) > 0 && lines[0] == prevLast {
			lines = lines[1:]
		}
		if len(lines) == 0 {
			last := &t.Segments[len(t.Segments)-1]
			last.End = max(last.End, end)
			t.Duration = max(t.Duration, end)
			continue
		}
		t.Segments = append(t.Segments, api.Segment{Start: c.Start, End: end, Text: strings.Join(lines, " ")})
		prevLast = lines[len(lines)-1]
		t.Duration = max(t.Duration, end)
	}
	texts := make([]string, len(t.Segments))
	for i, s := range t.Segments {
		texts[i] = s.Text
	}
	t.Text = strings.Join(texts, " ")
	return t
}

// stripFormatting removes SRT's formatting tags (<i>, <b>, <u>, <font ...>
// and their ends), leaving any other "<" as text.
func stripFormatting(s string) string {
	if !strings.Contains(s, "<") {
		return s
	}
	var b strings.Builder
	for {
		open := strings.IndexByte(s, '<')
		if open < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:open])
		end := strings.IndexByte(s[open:], '>')
		if end < 0 || !formattingTag(s[open+1:open+end]) {
			b.WriteByte('<')
			s = s[open+1:]
			continue
		}
		s = s[open+end+1:]
	}
}

// formattingTag reports whether tag, the text between "<" and ">", is one of
// SRT's formatting tags.
func formattingTag(tag string) bool {
	tag = strings.TrimPrefix(tag, "/")
	name, _, _ := strings.Cut(tag, " ")
	switch strings.ToLower(name) {
	case "i", "b", "u", "font":
		return true
	}
	return false
}
