package source

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

var (
	// cueTiming matches "00:01.000 --> 00:04.000 align:start" and the
	// hours form; a comma decimal separator (SRT habit) is tolerated.
	cueTiming = regexp.MustCompile(`^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s+-->\s+((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})`)
	// cueTag matches markup inside cue text: <c>, </c>, <c.color>, <i>, <b>,
	// <u>, <v Speaker>, <lang en>, <ruby>/<rt> and inline <00:00:01.000> times.
	cueTag = regexp.MustCompile(`<[^>]*>`)
	spaces = regexp.MustCompile(`\s+`)
)

// ParseVTT converts a WebVTT document into a transcript with one segment per
// cue. It is tolerant: it skips headers, NOTE/STYLE/REGION blocks, cue
// identifiers and settings, strips markup and inline timestamps, decodes
// entities, and drops lines that repeat the previous cue's last line (rolling
// captions). Word timings are not invented: caption tracks have none.
func ParseVTT(r io.Reader) (api.Transcript, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)

	var (
		segs    []api.Segment
		cur     *api.Segment
		text    []string
		skip    bool // inside a NOTE/STYLE/REGION block
		sawCue  bool
		lineNum int
	)
	var prevLast string // the last text line of the previous kept cue
	flush := func() {
		if cur != nil {
			var lines []string
			for _, l := range text {
				if c := cleanCueText(l); c != "" {
					lines = append(lines, c)
				}
			}
			// Rolling captions repeat the previous cue's last line first.
			for len(lines) > 0 && len(segs) > 0 && lines[0] == prevLast {
				lines = lines[1:]
			}
			if len(lines) > 0 {
				cur.Text = strings.Join(lines, " ")
				segs = append(segs, *cur)
				prevLast = lines[len(lines)-1]
			} else if len(text) > 0 && len(segs) > 0 && cur.End > segs[len(segs)-1].End {
				segs[len(segs)-1].End = cur.End // a repeated cue extends the last one
			}
		}
		cur, text = nil, nil
	}
	for sc.Scan() {
		lineNum++
		line := strings.TrimRight(sc.Text(), "\r")
		if lineNum == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			flush()
			skip = false
			continue
		}
		if skip {
			continue
		}
		if cur == nil {
			if strings.HasPrefix(trimmed, "WEBVTT") || strings.HasPrefix(trimmed, "NOTE") ||
				strings.HasPrefix(trimmed, "STYLE") || strings.HasPrefix(trimmed, "REGION") {
				skip = true
				continue
			}
			if m := cueTiming.FindStringSubmatch(line); m != nil {
				start, err1 := parseVTTTime(m[1])
				end, err2 := parseVTTTime(m[2])
				if err1 != nil || err2 != nil {
					return api.Transcript{}, fmt.Errorf("vtt line %d: bad cue timing %q", lineNum, trimmed)
				}
				if end < start {
					end = start
				}
				cur = &api.Segment{Start: start, End: end}
				sawCue = true
			}
			// Anything else before a timing line is a cue identifier or
			// stray header text: ignore it.
			continue
		}
		if cueTiming.MatchString(line) {
			// A timing line without a blank line before it starts a new cue.
			flush()
			m := cueTiming.FindStringSubmatch(line)
			start, _ := parseVTTTime(m[1])
			end, _ := parseVTTTime(m[2])
			cur = &api.Segment{Start: start, End: max(start, end)}
			continue
		}
		text = append(text, trimmed)
	}
	if err := sc.Err(); err != nil {
		return api.Transcript{}, fmt.Errorf("read vtt: %w", err)
	}
	flush()
	if !sawCue {
		return api.Transcript{}, fmt.Errorf("vtt: no cues found")
	}

	tr := api.Transcript{
		Segments: segs,
		Engine:   api.EngineInfo{Name: "captions", Origin: "captions"},
	}
	if tr.Segments == nil {
		tr.Segments = []api.Segment{}
	}
	var all []string
	for _, s := range segs {
		all = append(all, s.Text)
		tr.Duration = max(tr.Duration, s.End)
	}
	tr.Text = strings.Join(all, " ")
	return tr, nil
}

func cleanCueText(s string) string {
	s = cueTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	s = strings.ReplaceAll(s, "\u00a0", " ")
	return strings.TrimSpace(spaces.ReplaceAllString(s, " "))
}

// parseVTTTime parses "hh:mm:ss.ttt" or "mm:ss.ttt" into seconds.
func parseVTTTime(s string) (float64, error) {
	s = strings.Replace(s, ",", ".", 1)
	parts := strings.Split(s, ":")
	var total float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0, fmt.Errorf("parse time %q: %w", s, err)
		}
		if i < len(parts)-1 {
			total = (total + v) * 60
		} else {
			total += v
		}
	}
	return total, nil
}
