package caption

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by the errors ParseSRT and ParseVTT return.
var ErrSyntax = errors.New("caption syntax error")

func writeSRT(w *bufio.Writer, cues []Cue) {
	for i, c := range cues {
		w.WriteString(strconv.Itoa(i + 1))
		w.WriteByte('\n')
		w.WriteString(formatTime(toMS(c.Start), ','))
		w.WriteString(" --> ")
		w.WriteString(formatTime(toMS(c.End), ','))
		w.WriteByte('\n')
		w.WriteString(c.Text)
		w.WriteString("\n\n")
	}
}

// formatTime writes ms as HH:MM:SS<sep>mmm (more hour digits if needed).
func formatTime(ms int64, sep byte) string {
	h := ms / 3_600_000
	m := ms / 60_000 % 60
	s := ms / 1000 % 60
	return fmt.Sprintf("%02d:%02d:%02d%c%03d", h, m, s, sep, ms%1000)
}

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

// readLines reads all of r and splits it into lines without their ends,
// dropping a leading byte-order mark.
func readLines(r io.Reader) ([]string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("caption: read: %w", err)
	}
	s := strings.TrimPrefix(string(b), "\uFEFF")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Split(s, "\n"), nil
}

// parseTiming reads "start --> end [settings]" into seconds.
func parseTiming(line string) (start, end float64, err error) {
	left, right, _ := strings.Cut(line, "-->")
	rf := strings.Fields(right)
	if len(rf) == 0 {
		return 0, 0, fmt.Errorf("no end time in %q", line)
	}
	s, err := parseTimestamp(strings.TrimSpace(left))
	if err != nil {
		return 0, 0, err
	}
	e, err := parseTimestamp(rf[0])
	if err != nil {
		return 0, 0, err
	}
	return float64(s) / 1000, float64(e) / 1000, nil
}

// parseTimestamp reads [HH:]MM:SS[(,|.)mmm] into milliseconds. Fractions of
// one to three digits are accepted ("5" is 500 ms).
func parseTimestamp(s string) (int64, error) {
	bad := fmt.Errorf("bad timestamp %q", s)
	clock, frac, hasFrac := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	parts := strings.Split(clock, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, bad
	}
	var h int64
	if len(parts) == 3 {
		v, ok := digits(parts[0], 1, 7)
		if !ok {
			return 0, bad
		}
		h = v
		parts = parts[1:]
	}
	m, ok := digits(parts[0], 1, 2)
	if !ok || m > 59 {
		return 0, bad
	}
	sec, ok := digits(parts[1], 1, 2)
	if !ok || sec > 59 {
		return 0, bad
	}
	var ms int64
	if hasFrac {
		v, ok := digits(frac, 1, 3)
		if !ok {
			return 0, bad
		}
		for n := len(frac); n < 3; n++ {
			v *= 10
		}
		ms = v
	}
	return ((h*60+m)*60+sec)*1000 + ms, nil
}

// digits parses an unsigned decimal of minLen..maxLen ASCII digits.
func digits(s string, minLen, maxLen int) (int64, bool) {
	if len(s) < minLen || len(s) > maxLen {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}
