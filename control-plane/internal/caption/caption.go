// Package caption turns the canonical transcript (api.Transcript) into the
// caption formats users download (SRT, WebVTT, plain text, JSON), laid out
// as asked. It is pure: it only writes the streams it is given. Reading caption
// tracks back is package internal/subtitle's.
package caption

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/subtitle"
)

// Caption formats accepted by Render.
const (
	FormatSRT  = "srt"
	FormatVTT  = "vtt"
	FormatText = "txt"
	FormatJSON = "json"
)

// Layout defaults and limits.
const (
	DefaultMaxChars = 42
	DefaultMaxLines = 2
	// LimitMaxChars and LimitMaxLines bound a requested layout: generous, but
	// they keep a query parameter from asking for absurd cues.
	LimitMaxChars = 1000
	LimitMaxLines = 1000
)

var (
	// ErrUnknownFormat is returned for a format that is not one of Formats().
	ErrUnknownFormat = errors.New("unknown caption format")
	// ErrInvalidLayout is returned for a layout outside the limits.
	ErrInvalidLayout = errors.New("invalid caption layout")
)

// Formats lists the formats Render accepts.
func Formats() []string { return []string{FormatSRT, FormatVTT, FormatText, FormatJSON} }

// CheckFormat returns an error wrapping ErrUnknownFormat unless format is one
// of Formats().
func CheckFormat(format string) error {
	switch format {
	case FormatSRT, FormatVTT, FormatText, FormatJSON:
		return nil
	}
	return fmt.Errorf("%w %q: want one of %s", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
}

// ContentType is the HTTP media type of a format, or
// "application/octet-stream" for an unknown one.
func ContentType(format string) string {
	switch format {
	case FormatSRT:
		return "application/x-subrip; charset=utf-8"
	case FormatVTT:
		return "text/vtt; charset=utf-8"
	case FormatText:
		return "text/plain; charset=utf-8"
	case FormatJSON:
		return "application/json"
	}
	return "application/octet-stream"
}

// Layout shapes caption cues. Zero fields take the defaults.
type Layout struct {
	MaxChars int // characters (runes) per line, default 42
	MaxLines int // lines per cue, default 2
}

// WithDefaults fills zero fields with the defaults.
func (l Layout) WithDefaults() Layout {
	if l.MaxChars == 0 {
		l.MaxChars = DefaultMaxChars
	}
	if l.MaxLines == 0 {
		l.MaxLines = DefaultMaxLines
	}
	return l
}

// Check reports a layout outside the limits (zero fields are fine: defaults).
func (l Layout) Check() error {
	if l.MaxChars < 0 || l.MaxChars > LimitMaxChars {
		return fmt.Errorf("%w: max_chars must be between 1 and %d", ErrInvalidLayout, LimitMaxChars)
	}
	if l.MaxLines < 0 || l.MaxLines > LimitMaxLines {
		return fmt.Errorf("%w: max_lines must be between 1 and %d", ErrInvalidLayout, LimitMaxLines)
	}
	return nil
}

// Render writes t to w in format, laid out by l. The layout applies to SRT
// and WebVTT; text is one segment per line; JSON is the transcript itself.
// The transcript must pass Validate.
func Render(w io.Writer, t api.Transcript, format string, l Layout) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	if err := l.Check(); err != nil {
		return err
	}
	if err := Validate(t); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	switch format {
	case FormatSRT:
		writeSRT(bw, BuildCues(t, l))
	case FormatVTT:
		writeVTT(bw, BuildCues(t, l))
	case FormatText:
		writeText(bw, t)
	case FormatJSON:
		if err := writeJSON(bw, t); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("caption: write %s: %w", format, err)
	}
	return nil
}

// writeText writes one segment per line, whitespace normalized. Segments
// without text fall back to their words; a transcript without segments falls
// back to its text.
func writeText(w *bufio.Writer, t api.Transcript) {
	if len(t.Segments) == 0 {
		if s := strings.Join(subtitle.Words(t.Text), " "); s != "" {
			w.WriteString(s)
			w.WriteByte('\n')
		}
		return
	}
	for _, s := range t.Segments {
		line := strings.Join(subtitle.Words(s.Text), " ")
		if line == "" {
			var ws []string
			for _, wd := range s.Words {
				ws = append(ws, subtitle.Words(wd.Word)...)
			}
			line = strings.Join(ws, " ")
		}
		if line != "" {
			w.WriteString(line)
			w.WriteByte('\n')
		}
	}
}

// writeJSON writes the canonical transcript. Nil segments are written as an
// empty array: clients may rely on "segments" being a list.
func writeJSON(w io.Writer, t api.Transcript) error {
	if t.Segments == nil {
		t.Segments = []api.Segment{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		return fmt.Errorf("caption: encode json: %w", err)
	}
	return nil
}
