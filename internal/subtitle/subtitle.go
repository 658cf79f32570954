// Package subtitle reads caption tracks, SubRip (SRT) and WebVTT, into cues,
// and cues into a transcript. The agent reads the human-made tracks sites
// publish with it; the control plane's tests read back what its renderers
// write. Tracks are site-controlled input: the parsers are tolerant of what
// real files hold and never panic.
package subtitle

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// ErrSyntax is wrapped by the errors ParseSRT and ParseVTT return.
var ErrSyntax = errors.New("caption syntax error")

// Cue is one caption on screen: a time span and its text, lines separated by
// "\n". Times are seconds; parsed cues hold whole milliseconds.
type Cue struct {
	Start float64
	End   float64
	Text  string
}

// Words splits caption text at white space (a no-break space included) and
// drops control characters and invalid UTF-8, which have no place in a
// caption file (a stray newline would end an SRT cue early).
func Words(text string) []string {
	fields := strings.Fields(strings.ToValidUTF8(text, ""))
	out := fields[:0]
	for _, f := range fields {
		f = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, f)
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// readLines reads all of r and splits it into lines without their ends,
// dropping a leading byte-order mark.
func readLines(r io.Reader) ([]string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("subtitle: read: %w", err)
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
