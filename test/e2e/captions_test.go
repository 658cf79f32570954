package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/test/media"
)

// speechText is what the test media says. flite's slt voice and
// pocketsphinx agree on it well, so a WER bound of 0.20 has a wide margin.
const speechText = "Hello and welcome to the show. Today we are going to talk about the history of music. Thank you for listening."

// maxWER is the accuracy every test asks of the pocketsphinx engine.
const maxWER = 0.20

// timeSlack absorbs the rounding of caption timestamps to milliseconds.
const timeSlack = 0.0015

// cue is one timed caption.
type cue struct {
	start, end float64 // seconds
	lines      []string
}

var (
	srtTiming = regexp.MustCompile(`^(\d{2,}):([0-5]\d):([0-5]\d),(\d{3}) --> (\d{2,}):([0-5]\d):([0-5]\d),(\d{3})$`)
	vttTiming = regexp.MustCompile(`^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3}) --> (?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})(?:[ \t]+\S.*)?$`)
)

// clock converts captured hours, minutes, seconds, milliseconds to seconds.
func clock(h, m, s, ms string) float64 {
	hv, _ := strconv.Atoi(h) // "" (WebVTT without hours) is 0
	mv, _ := strconv.Atoi(m)
	sv, _ := strconv.Atoi(s)
	msv, _ := strconv.Atoi(ms)
	return float64(hv*3600+mv*60+sv) + float64(msv)/1000
}

// blocks splits caption text into blank-line separated blocks, rejecting
// carriage returns, a byte-order mark and runs of more than one blank line.
func blocks(s string) ([][]string, error) {
	if strings.ContainsRune(s, '\r') {
		return nil, errors.New("carriage return in output")
	}
	if strings.HasPrefix(s, "\uFEFF") {
		return nil, errors.New("byte-order mark")
	}
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil, nil
	}
	var out [][]string
	for i, b := range strings.Split(s, "\n\n") {
		if b == "" || strings.HasPrefix(b, "\n") {
			return nil, fmt.Errorf("block %d: extra blank line", i+1)
		}
		out = append(out, strings.Split(b, "\n"))
	}
	return out, nil
}

// textLines checks the text lines of a cue.
func textLines(lines []string) error {
	if len(lines) == 0 {
		return errors.New("cue without text")
	}
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			return errors.New("blank text line")
		}
		if strings.Contains(l, "-->") {
			return fmt.Errorf("text line %q contains -->", l)
		}
	}
	return nil
}

// parseSRT parses SubRip strictly: numbered from 1 in order, one timing
// line "HH:MM:SS,mmm --> HH:MM:SS,mmm", then at least one text line.
func parseSRT(s string) ([]cue, error) {
	bs, err := blocks(s)
	if err != nil {
		return nil, err
	}
	var cues []cue
	for i, b := range bs {
		if b[0] != strconv.Itoa(i+1) {
			return nil, fmt.Errorf("cue %d: index line %q", i+1, b[0])
		}
		if len(b) < 2 {
			return nil, fmt.Errorf("cue %d: no timing line", i+1)
		}
		m := srtTiming.FindStringSubmatch(b[1])
		if m == nil {
			return nil, fmt.Errorf("cue %d: bad timing line %q", i+1, b[1])
		}
		if err := textLines(b[2:]); err != nil {
			return nil, fmt.Errorf("cue %d: %w", i+1, err)
		}
		cues = append(cues, cue{start: clock(m[1], m[2], m[3], m[4]), end: clock(m[5], m[6], m[7], m[8]), lines: b[2:]})
	}
	return cues, nil
}

// parseVTT parses WebVTT strictly: a "WEBVTT" signature line, header lines,
// then cues (an optional identifier, a timing line with optional settings,
// at least one text line) and NOTE blocks.
func parseVTT(s string) ([]cue, error) {
	bs, err := blocks(s)
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, errors.New("empty file")
	}
	sig := bs[0][0]
	if sig != "WEBVTT" && !strings.HasPrefix(sig, "WEBVTT ") && !strings.HasPrefix(sig, "WEBVTT\t") {
		return nil, fmt.Errorf("signature line %q", sig)
	}
	for _, l := range bs[0][1:] {
		if strings.Contains(l, "-->") {
			return nil, errors.New("cue in the header block: a blank line must follow the signature")
		}
	}
	var cues []cue
	for i, b := range bs[1:] {
		if b[0] == "NOTE" || strings.HasPrefix(b[0], "NOTE ") || strings.HasPrefix(b[0], "NOTE\t") {
			continue
		}
		if !strings.Contains(b[0], "-->") { // a cue identifier
			b = b[1:]
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("block %d: no timing line", i+2)
		}
		m := vttTiming.FindStringSubmatch(b[0])
		if m == nil {
			return nil, fmt.Errorf("block %d: bad timing line %q", i+2, b[0])
		}
		if err := textLines(b[1:]); err != nil {
			return nil, fmt.Errorf("block %d: %w", i+2, err)
		}
		cues = append(cues, cue{start: clock(m[1], m[2], m[3], m[4]), end: clock(m[5], m[6], m[7], m[8]), lines: b[1:]})
	}
	return cues, nil
}

// checkCues checks that cues exist, each lasts a positive time inside
// [0, duration], and they follow each other without overlapping.
func checkCues(cues []cue, duration float64) error {
	if len(cues) == 0 {
		return errors.New("no cues")
	}
	prevEnd := 0.0
	for i, c := range cues {
		switch {
		case c.start < 0 || c.end <= c.start:
			return fmt.Errorf("cue %d: %.3f --> %.3f is not a positive span", i+1, c.start, c.end)
		case c.start+timeSlack < prevEnd:
			return fmt.Errorf("cue %d starts at %.3f, before cue %d ends at %.3f", i+1, c.start, i, prevEnd)
		case c.end > duration+timeSlack:
			return fmt.Errorf("cue %d ends at %.3f, after the media's %.3f s", i+1, c.end, duration)
		}
		prevEnd = c.end
	}
	return nil
}

func cueText(cues []cue) string {
	var parts []string
	for _, c := range cues {
		parts = append(parts, c.lines...)
	}
	return strings.Join(parts, " ")
}

// checkTranscript checks the canonical JSON transcript: words with timings
// inside their segments, segments in order, all inside the media.
func checkTranscript(tr api.Transcript, duration float64) (words int, err error) {
	if len(tr.Segments) == 0 {
		return 0, errors.New("no segments")
	}
	prevEnd := 0.0
	for i, s := range tr.Segments {
		if s.Start < 0 || s.End < s.Start || s.End > duration+timeSlack || s.Start+timeSlack < prevEnd {
			return 0, fmt.Errorf("segment %d: %.3f..%.3f (previous ended %.3f, media %.3f s)", i, s.Start, s.End, prevEnd, duration)
		}
		if len(s.Words) == 0 {
			return 0, fmt.Errorf("segment %d %q has no words", i, s.Text)
		}
		wPrev := s.Start
		for j, w := range s.Words {
			if strings.TrimSpace(w.Word) == "" || w.End < w.Start || w.Start+timeSlack < wPrev || w.Start+timeSlack < s.Start || w.End > s.End+timeSlack {
				return 0, fmt.Errorf("segment %d (%.3f..%.3f) word %d %+v: bad timing", i, s.Start, s.End, j, w)
			}
			if w.Confidence < 0 || w.Confidence > 1 {
				return 0, fmt.Errorf("segment %d word %d %+v: confidence outside [0,1]", i, j, w)
			}
			wPrev = w.End
		}
		words += len(s.Words)
		prevEnd = s.End
	}
	return words, nil
}

// clip is a media file served over loopback HTTP.
type clip struct {
	name     string
	path     string
	url      string
	duration float64
}

// serveClips copies the files into one directory served on loopback and
// returns them with their URLs and durations.
func serveClips(t testing.TB, files map[string]string) map[string]clip {
	t.Helper()
	dir := t.TempDir()
	base := media.Serve(t, dir)
	out := map[string]clip{}
	for name, src := range files {
		p := media.Copy(t, src, dir, name)
		out[name] = clip{name: name, path: p, url: base + "/" + name, duration: probeDuration(t, p)}
	}
	return out
}

func noCache() *bool { f := false; return &f }

// probeDuration is the media's duration by ffprobe, in seconds.
func probeDuration(t testing.TB, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe %s: duration %q: %v", path, out, err)
	}
	return d
}

// captions fetches one caption format of a job.
func captions(t testing.TB, c *api.Client, id, format string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b bytes.Buffer
	if err := c.Captions(ctx, id, api.CaptionOptions{Format: format}, &b); err != nil {
		t.Fatalf("job %s captions %s: %v", id, format, err)
	}
	return b.String()
}

// checkJobCaptions fetches a succeeded job's SRT, VTT and JSON and checks
// them against the spoken text and the media duration. It returns the WER.
func checkJobCaptions(t testing.TB, c *api.Client, j api.Job, text string, duration float64) float64 {
	t.Helper()
	var tr api.Transcript
	raw := captions(t, c, j.ID, "json")
	if err := json.Unmarshal([]byte(raw), &tr); err != nil {
		t.Fatalf("job %s: JSON captions: %v\n%s", j.ID, err, raw)
	}
	words, err := checkTranscript(tr, duration)
	if err != nil {
		t.Fatalf("job %s: JSON transcript: %v\n%s", j.ID, err, raw)
	}
	if math.Abs(tr.Duration-duration) > 0.5 {
		t.Errorf("job %s: transcript duration %.3f s, media is %.3f s", j.ID, tr.Duration, duration)
	}
	if j.Result.Words != words || j.Result.Segments != len(tr.Segments) {
		t.Errorf("job %s: result says %d words in %d segments, transcript has %d in %d",
			j.ID, j.Result.Words, j.Result.Segments, words, len(tr.Segments))
	}
	wer := media.WER(text, tr.Text)
	if wer > maxWER {
		t.Errorf("job %s: WER %.3f > %.2f\n want: %s\n  got: %s", j.ID, wer, maxWER, text, tr.Text)
	}

	for _, f := range []struct {
		format string
		parse  func(string) ([]cue, error)
	}{{"srt", parseSRT}, {"vtt", parseVTT}} {
		body := captions(t, c, j.ID, f.format)
		cues, err := f.parse(body)
		if err == nil {
			err = checkCues(cues, duration)
		}
		if err != nil {
			t.Fatalf("job %s: %s: %v\n%s", j.ID, f.format, err, body)
		}
		// Every format renders the same transcript: the same words.
		if got, want := strings.Join(media.Words(cueText(cues)), " "), strings.Join(media.Words(tr.Text), " "); got != want {
			t.Errorf("job %s: %s words differ from the JSON text\n %s: %s\njson: %s", j.ID, f.format, f.format, got, want)
		}
	}
	return wer
}

// TestParseCaptions checks the test's own strict SRT and VTT parsers, which
// every caption assertion of the suite relies on.
func TestParseCaptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		cues  int
		valid bool
	}{
		{"srt: two cues", "1\n00:00:00,160 --> 00:00:04,890\nthe quick brown fox\njumps\n\n2\n00:00:05,000 --> 00:00:06,880\nover\n\n", 2, true},
		{"srt: no trailing blank line", "1\n00:00:00,000 --> 00:00:01,000\nhi\n", 1, true},
		{"srt: empty", "", 0, true},
		{"srt: index from 0", "0\n00:00:00,000 --> 00:00:01,000\nhi\n", 0, false},
		{"srt: index skips", "1\n00:00:00,000 --> 00:00:01,000\nhi\n\n3\n00:00:01,000 --> 00:00:02,000\nyo\n", 0, false},
		{"srt: dot separator", "1\n00:00:00.000 --> 00:00:01.000\nhi\n", 0, false},
		{"srt: minutes over 59", "1\n00:60:00,000 --> 00:61:00,000\nhi\n", 0, false},
		{"srt: no text", "1\n00:00:00,000 --> 00:00:01,000\n", 0, false},
		{"srt: double blank line", "1\n00:00:00,000 --> 00:00:01,000\nhi\n\n\n2\n00:00:01,000 --> 00:00:02,000\nyo\n", 0, false},
		{"srt: crlf", "1\r\n00:00:00,000 --> 00:00:01,000\r\nhi\r\n", 0, false},
		{"srt: missing arrow", "1\n00:00:00,000 00:00:01,000\nhi\n", 0, false},
		{"vtt: two cues", "WEBVTT\n\n00:00:00.160 --> 00:00:04.490\nthe meeting\nstarts\n\n00:00:04.500 --> 00:00:05.820\nat noon\n\n", 2, true},
		{"vtt: ids, settings, note, short times", "WEBVTT - captions\n\nNOTE made here\n\nc1\n00:01.000 --> 00:02.000 align:start\nhi\n", 1, true},
		{"vtt: no signature", "00:00:00.000 --> 00:00:01.000\nhi\n", 0, false},
		{"vtt: signature glued", "WEBVTTX\n\n00:00:00.000 --> 00:00:01.000\nhi\n", 0, false},
		{"vtt: cue in header", "WEBVTT\n00:00:00.000 --> 00:00:01.000\nhi\n", 0, false},
		{"vtt: comma separator", "WEBVTT\n\n00:00:00,000 --> 00:00:01,000\nhi\n", 0, false},
		{"vtt: no text", "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n", 0, false},
		{"vtt: id only", "WEBVTT\n\nc1\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parse := parseSRT
			if strings.HasPrefix(tt.name, "vtt: ") {
				parse = parseVTT
			}
			cues, err := parse(tt.in)
			if (err == nil) != tt.valid {
				t.Fatalf("parse: err %v, want valid=%v", err, tt.valid)
			}
			if tt.valid && len(cues) != tt.cues {
				t.Fatalf("parse: %d cues, want %d", len(cues), tt.cues)
			}
		})
	}
}

func TestCheckCues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cues  []cue
		valid bool
	}{
		{"in order", []cue{{0.1, 1, nil}, {1, 2, nil}}, true},
		{"none", nil, false},
		{"overlap", []cue{{0.1, 1.5, nil}, {1, 2, nil}}, false},
		{"zero length", []cue{{1, 1, nil}}, false},
		{"past the end", []cue{{1, 3.5, nil}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := checkCues(tt.cues, 3); (err == nil) != tt.valid {
				t.Fatalf("checkCues: err %v, want valid=%v", err, tt.valid)
			}
		})
	}
}
