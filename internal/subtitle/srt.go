package subtitle

import (
	"fmt"
	"io"
	"strings"
)

// ParseSRT reads SubRip cues. It accepts a byte-order mark, CRLF or CR line
// ends, a missing or non-numeric cue number, "." for "," in times, and
// coordinates after the end time. A block with no timing line continues the
// previous cue's text (as players treat a blank line inside a cue); before any
// cue it is an error, as is a timing line that does not parse.
func ParseSRT(r io.Reader) ([]Cue, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, err
	}
	var cues []Cue
	for i := 0; i < len(lines); {
		if strings.TrimSpace(lines[i]) == "" {
			i++
			continue
		}
		block := i
		timing := i
		if !strings.Contains(lines[i], "-->") {
			timing = i + 1
		}
		if timing >= len(lines) || !strings.Contains(lines[timing], "-->") {
			// Not a cue: text that followed a blank line inside the last cue.
			var extra []string
			for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
				extra = append(extra, strings.TrimSpace(lines[i]))
				i++
			}
			if len(cues) == 0 {
				return nil, fmt.Errorf("%w: srt line %d: expected a cue number or timing line", ErrSyntax, block+1)
			}
			last := &cues[len(cues)-1]
			last.Text = joinNonEmpty(last.Text, strings.Join(extra, "\n"))
			continue
		}
		start, end, err := parseTiming(lines[timing])
		if err != nil {
			return nil, fmt.Errorf("%w: srt line %d: %w", ErrSyntax, timing+1, err)
		}
		i = timing + 1
		var text []string
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			text = append(text, strings.TrimSpace(lines[i]))
			i++
		}
		cues = append(cues, Cue{Start: start, End: end, Text: strings.Join(text, "\n")})
	}
	return cues, nil
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}
