package caption

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// OriginCaptions marks a transcript taken from an existing caption track.
const OriginCaptions = "captions"

// CuesToTranscript turns caption cues into a transcript: one segment per cue
// with text (lines joined by spaces, no word timings), ordered by start, an
// end never before its start. Duration is the last end.
func CuesToTranscript(cues []Cue, lang string) api.Transcript {
	sorted := slices.Clone(cues)
	slices.SortStableFunc(sorted, func(a, b Cue) int { return cmp.Compare(a.Start, b.Start) })
	t := api.Transcript{
		Language: lang,
		Segments: []api.Segment{},
		Engine:   api.EngineInfo{Name: OriginCaptions, Origin: OriginCaptions},
	}
	texts := make([]string, 0, len(sorted))
	for _, c := range sorted {
		text := strings.Join(tokens(c.Text), " ")
		if text == "" {
			continue
		}
		end := max(c.End, c.Start)
		t.Segments = append(t.Segments, api.Segment{Start: c.Start, End: end, Text: text})
		texts = append(texts, text)
		t.Duration = max(t.Duration, end)
	}
	t.Text = strings.Join(texts, " ")
	return t
}
