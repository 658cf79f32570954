package subtitle

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// ParseVTT reads WebVTT cues. It requires the WEBVTT header (after an
// optional byte-order mark), skips header fields such as YouTube's "Kind:"
// and "Language:", NOTE, STYLE and REGION blocks, cue identifiers and cue
// settings, and returns the text with markup removed (<c>, <v>, <i>, inline
// timestamps) and character references decoded. As the WebVTT parsing rules
// say, a block whose timing line does not parse is skipped.
func ParseVTT(r io.Reader) ([]Cue, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, err
	}
	if !isVTTHeader(lines[0]) {
		return nil, fmt.Errorf("%w: vtt: missing WEBVTT header", ErrSyntax)
	}
	i := 1
	// Header fields run to the first blank line.
	for i < len(lines) && lines[i] != "" && !strings.Contains(lines[i], "-->") {
		i++
	}
	var cues []Cue
	for i < len(lines) {
		line := lines[i]
		if strings.TrimSpace(line) == "" {
			i++
			continue
		}
		timing := i
		if !strings.Contains(line, "-->") {
			if isVTTBlock(line, "NOTE") || isVTTBlock(line, "STYLE") || isVTTBlock(line, "REGION") ||
				timing+1 >= len(lines) || !strings.Contains(lines[timing+1], "-->") {
				i = skipBlock(lines, i)
				continue
			}
			timing++ // line was the cue identifier
		}
		start, end, err := parseTiming(lines[timing])
		if err != nil {
			i = skipBlock(lines, timing)
			continue
		}
		i = timing + 1
		var text []string
		// The payload ends at a blank line, or at a line that starts another cue.
		for i < len(lines) && lines[i] != "" && !strings.Contains(lines[i], "-->") {
			if t := strings.TrimSpace(html.UnescapeString(stripTags(lines[i]))); t != "" {
				text = append(text, t)
			}
			i++
		}
		cues = append(cues, Cue{Start: start, End: end, Text: strings.Join(text, "\n")})
	}
	return cues, nil
}

func isVTTHeader(line string) bool {
	return isVTTBlock(line, "WEBVTT")
}

// isVTTBlock reports whether line is keyword alone or followed by a space or tab.
func isVTTBlock(line, keyword string) bool {
	rest, ok := strings.CutPrefix(line, keyword)
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

func skipBlock(lines []string, i int) int {
	for i < len(lines) && lines[i] != "" {
		i++
	}
	return i
}

// stripTags removes WebVTT markup: every "<...>" (an unclosed one runs to the
// end of the line).
func stripTags(s string) string {
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
		if end < 0 {
			return b.String()
		}
		s = s[open+end+1:]
	}
}
