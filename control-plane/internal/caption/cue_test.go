package caption

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/subtitle"
)

func words(start, step float64, text string) []api.Word {
	var out []api.Word
	for i, w := range strings.Fields(text) {
		s := start + float64(i)*step
		out = append(out, api.Word{Word: w, Start: s, End: s + step*0.9})
	}
	return out
}

func TestBuildCues(t *testing.T) {
	t.Parallel()
	one := func(segs ...api.Segment) api.Transcript { return api.Transcript{Segments: segs} }
	tests := []struct {
		name   string
		t      api.Transcript
		layout Layout
		want   []Cue
	}{
		{
			name: "segment boundary ends a cue even with room",
			t: one(
				api.Segment{Start: 0, End: 1, Words: words(0, 0.5, "Hi there")},
				api.Segment{Start: 1, End: 2, Words: words(1, 0.5, "you two")},
			),
			want: []Cue{{Start: 0, End: 0.95, Text: "Hi there"}, {Start: 1, End: 1.95, Text: "you two"}},
		},
		{
			name:   "line and lines limits",
			t:      one(api.Segment{Start: 0, End: 3, Words: words(0, 0.5, "aaa bbb ccc ddd eee fff")}),
			layout: Layout{MaxChars: 7, MaxLines: 2},
			want:   []Cue{{Start: 0, End: 1.95, Text: "aaa bbb\nccc ddd"}, {Start: 2, End: 2.95, Text: "eee fff"}},
		},
		{
			name:   "prefers to break after punctuation",
			t:      one(api.Segment{Start: 0, End: 6, Words: words(0, 0.5, "one two three, four five six seven")}),
			layout: Layout{MaxChars: 30, MaxLines: 1},
			want:   []Cue{{Start: 0, End: 1.45, Text: "one two three,"}, {Start: 1.5, End: 3.45, Text: "four five six seven"}},
		},
		{
			name:   "ignores punctuation early in the cue",
			t:      one(api.Segment{Start: 0, End: 6, Words: words(0, 0.5, "Oh, one two three four five")}),
			layout: Layout{MaxChars: 22, MaxLines: 1},
			want:   []Cue{{Start: 0, End: 2.45, Text: "Oh, one two three four"}, {Start: 2.5, End: 2.95, Text: "five"}},
		},
		{
			name: "long pause ends a cue",
			t: one(api.Segment{Start: 0, End: 5, Words: []api.Word{
				{Word: "before", Start: 0, End: 0.5}, {Word: "the", Start: 0.6, End: 0.9}, {Word: "pause", Start: 2, End: 2.5},
			}}),
			want: []Cue{{Start: 0, End: 0.9, Text: "before the"}, {Start: 2, End: 2.5, Text: "pause"}},
		},
		{
			name:   "a word longer than a line gets its own line",
			t:      one(api.Segment{Start: 0, End: 3, Words: words(0, 1, "a incomprehensibilities b")}),
			layout: Layout{MaxChars: 10, MaxLines: 3},
			want:   []Cue{{Start: 0, End: 2.9, Text: "a\nincomprehensibilities\nb"}},
		},
		{
			name:   "a word longer than a line in a one-line layout",
			t:      one(api.Segment{Start: 0, End: 3, Words: words(0, 1, "a incomprehensibilities b")}),
			layout: Layout{MaxChars: 10, MaxLines: 1},
			want:   []Cue{{Start: 0, End: 0.9, Text: "a"}, {Start: 1, End: 1.9, Text: "incomprehensibilities"}, {Start: 2, End: 2.9, Text: "b"}},
		},
		{
			name:   "no words: time proportional to characters",
			t:      one(api.Segment{Start: 10, End: 20, Text: "aaaaaaaaa b"}),
			layout: Layout{MaxChars: 5, MaxLines: 1},
			want:   []Cue{{Start: 10, End: 18.333, Text: "aaaaaaaaa"}, {Start: 18.333, End: 20, Text: "b"}},
		},
		{
			name: "words without text fall back to the segment text",
			t:    one(api.Segment{Start: 0, End: 2, Text: "real text", Words: []api.Word{{Word: " ", Start: 0, End: 1}}}),
			want: []Cue{{Start: 0, End: 2, Text: "real text"}},
		},
		{
			name: "zero-length cue gets a minimum duration",
			t:    one(api.Segment{Start: 5, End: 5, Text: "blink"}),
			want: []Cue{{Start: 5, End: 5.2, Text: "blink"}},
		},
		{
			name: "minimum duration stops at the next cue",
			t:    one(api.Segment{Start: 5, End: 5, Text: "blink"}, api.Segment{Start: 5.05, End: 6, Text: "next"}),
			want: []Cue{{Start: 5, End: 5.05, Text: "blink"}, {Start: 5.05, End: 6, Text: "next"}},
		},
		{
			name: "overlap is cut at the next start",
			t:    one(api.Segment{Start: 0, End: 4, Text: "first"}, api.Segment{Start: 3, End: 5, Text: "second"}),
			want: []Cue{{Start: 0, End: 3, Text: "first"}, {Start: 3, End: 5, Text: "second"}},
		},
		{
			name: "same start pushes the later cue",
			t:    one(api.Segment{Start: 1, End: 1, Text: "a"}, api.Segment{Start: 1, End: 1, Text: "b"}),
			want: []Cue{{Start: 1, End: 1.2, Text: "a"}, {Start: 1.2, End: 1.4, Text: "b"}},
		},
		{
			name: "sub-millisecond cue",
			t:    one(api.Segment{Start: 1, End: 1.0004, Text: "tiny"}),
			want: []Cue{{Start: 1, End: 1.2, Text: "tiny"}},
		},
		{
			name: "empty segments make no cues; white space and control characters are dropped",
			t:    one(api.Segment{Start: 0, End: 1, Text: " \t\n"}, api.Segment{Start: 1, End: 2, Text: "tab\there\x07 \u00a0ok\r\n"}),
			want: []Cue{{Start: 1, End: 2, Text: "tab here ok"}},
		},
		{
			name:   "a word with spaces is split and shares its time",
			t:      one(api.Segment{Start: 0, End: 1, Words: []api.Word{{Word: "New\nYork", Start: 0, End: 1}}}),
			layout: Layout{MaxChars: 4, MaxLines: 1},
			want:   []Cue{{Start: 0, End: 0.444, Text: "New"}, {Start: 0.444, End: 1, Text: "York"}},
		},
		{
			name:   "runes, not bytes, count",
			t:      one(api.Segment{Start: 0, End: 1, Text: "ééééé ééééé"}),
			layout: Layout{MaxChars: 11, MaxLines: 1},
			want:   []Cue{{Start: 0, End: 1, Text: "ééééé ééééé"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := BuildCues(tt.t, tt.layout)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("BuildCues:\ngot  %v\nwant %v", got, tt.want)
			}
		})
	}
}

var (
	srtTiming = regexp.MustCompile(`^\d{2,}:[0-5]\d:[0-5]\d,\d{3} --> \d{2,}:[0-5]\d:[0-5]\d,\d{3}$`)
	vttTiming = regexp.MustCompile(`^\d{2,}:[0-5]\d:[0-5]\d\.\d{3} --> \d{2,}:[0-5]\d:[0-5]\d\.\d{3}$`)
	vttEntity = regexp.MustCompile(`&(amp|lt|gt);`)
)

// vocabulary for generated transcripts: ordinary words, punctuation, markup
// and caption syntax look-alikes, long words, non-ASCII, white space and
// control characters.
func vocabulary() []string {
	return []string{
		"the", "a", "caption", "is", "timed", "well,", "ok.", "Really?", "yes!", "so;", "note:",
		"&", "AT&T", "<b>", "x>y", "&amp;", "-->", "--", "1", "42", "00:00:01,000", "00:01.000",
		"NOTE", "WEBVTT", "STYLE", "naïve", "日本語の字幕", "…", "supercalifragilisticexpialidocious",
		"https://example.com/a/very/long/path/that/does/not/fit/on/one/line",
		"", " ", "two words", "line\nbreak", "tab\tsep", "\u00a0", "ctl\x07char", "\uFEFFbom", "\r\n",
	}
}

// genTranscript makes a random transcript that passes Validate, with sub-
// millisecond times, zero-length and overlapping spans, pauses, words outside
// their segment and segments without words.
func genTranscript(r *rand.Rand) api.Transcript {
	var t api.Transcript
	vocab := vocabulary()
	clock := r.Float64() * 3
	prevStart := 0.0
	for range r.IntN(8) {
		start := clock + r.Float64()*2
		if r.IntN(5) == 0 { // overlap the previous segment
			start = max(prevStart, clock-r.Float64())
		}
		start = math.Round(start*1e4) / 1e4
		seg := api.Segment{Start: start, End: start}
		n := 1 + r.IntN(25)
		at := start
		var texts []string
		for range n {
			w := vocab[r.IntN(len(vocab))]
			texts = append(texts, w)
			switch r.IntN(10) {
			case 0:
				at += 1 + r.Float64()*3 // a pause
			case 1:
				// same start as the previous word
			default:
				at += r.Float64() * 0.3
			}
			at = math.Round(at*1e4) / 1e4
			end := at
			if r.IntN(6) != 0 {
				end = math.Round((at+r.Float64()*0.8)*1e4) / 1e4
			}
			seg.Words = append(seg.Words, api.Word{Word: w, Start: at, End: end, Confidence: r.Float64()})
			seg.End = max(seg.End, end)
		}
		seg.Text = strings.Join(texts, " ")
		switch r.IntN(4) {
		case 0:
			seg.Words = nil
		case 1: // words may run past a segment that ends early
			seg.End = start + (seg.End-start)*r.Float64()
		}
		t.Segments = append(t.Segments, seg)
		prevStart = start
		clock = seg.End
	}
	t.Duration = clock
	return t
}

// expectedTokens is every word the captions must show, in order.
func expectedTokens(t api.Transcript) []string {
	var out []string
	for _, s := range t.Segments {
		var ws []string
		for _, w := range s.Words {
			ws = append(ws, subtitle.Words(w.Word)...)
		}
		if len(ws) == 0 {
			ws = subtitle.Words(s.Text)
		}
		out = append(out, ws...)
	}
	return out
}

// checkCues checks the layout guarantees.
func checkCues(cues []Cue, l Layout) error {
	l = l.WithDefaults()
	prevEnd := 0.0
	for i, c := range cues {
		switch {
		case !(c.Start < c.End):
			return fmt.Errorf("cue %d: start %v not before end %v", i, c.Start, c.End)
		case c.Start < prevEnd:
			return fmt.Errorf("cue %d: starts at %v before the previous cue ends (%v)", i, c.Start, prevEnd)
		case strings.TrimSpace(c.Text) == "":
			return fmt.Errorf("cue %d: empty", i)
		case math.Round(c.Start*1000)/1000 != c.Start || math.Round(c.End*1000)/1000 != c.End:
			return fmt.Errorf("cue %d: times %v, %v are not whole milliseconds", i, c.Start, c.End)
		}
		lines := strings.Split(c.Text, "\n")
		if len(lines) > l.MaxLines {
			return fmt.Errorf("cue %d: %d lines, limit %d: %q", i, len(lines), l.MaxLines, c.Text)
		}
		for _, line := range lines {
			if line == "" || line != strings.TrimSpace(line) {
				return fmt.Errorf("cue %d: blank or padded line in %q", i, c.Text)
			}
			if utf8.RuneCountInString(line) > l.MaxChars && strings.Contains(line, " ") {
				return fmt.Errorf("cue %d: line %q longer than %d", i, line, l.MaxChars)
			}
		}
		prevEnd = c.End
	}
	return nil
}

// checkSRTSyntax checks numbering, timing lines and block structure.
func checkSRTSyntax(out string) error {
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n\n") {
		return fmt.Errorf("does not end with a blank line")
	}
	for i, block := range strings.Split(strings.TrimSuffix(out, "\n\n"), "\n\n") {
		lines := strings.Split(block, "\n")
		if len(lines) < 3 {
			return fmt.Errorf("block %d has %d lines: %q", i, len(lines), block)
		}
		if lines[0] != strconv.Itoa(i+1) {
			return fmt.Errorf("block %d numbered %q", i, lines[0])
		}
		if !srtTiming.MatchString(lines[1]) {
			return fmt.Errorf("block %d timing line %q", i, lines[1])
		}
	}
	return nil
}

// checkVTTSyntax checks the header, timing lines and escaping.
func checkVTTSyntax(out string) error {
	body, ok := strings.CutPrefix(out, "WEBVTT\n\n")
	if !ok {
		return fmt.Errorf("missing header")
	}
	if body == "" {
		return nil
	}
	if !strings.HasSuffix(body, "\n\n") {
		return fmt.Errorf("does not end with a blank line")
	}
	for i, block := range strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		lines := strings.Split(block, "\n")
		if len(lines) < 2 || !vttTiming.MatchString(lines[0]) {
			return fmt.Errorf("block %d: bad timing line in %q", i, block)
		}
		for _, line := range lines[1:] {
			if strings.ContainsAny(line, "<>") || strings.Contains(line, "-->") {
				return fmt.Errorf("block %d: unescaped markup in %q", i, line)
			}
			if strings.Count(line, "&") != len(vttEntity.FindAllString(line, -1)) {
				return fmt.Errorf("block %d: bare & in %q", i, line)
			}
		}
	}
	return nil
}

// checkRender renders t as SRT and VTT and checks syntax, guarantees, that
// parsing gives back the cues the renderer built, and that no word is lost.
func checkRender(t api.Transcript, l Layout) error {
	cues := BuildCues(t, l)
	if err := checkCues(cues, l); err != nil {
		return err
	}
	var shown []string
	for _, c := range cues {
		shown = append(shown, strings.Fields(c.Text)...)
	}
	if want := expectedTokens(t); !slicesEqual(shown, want) {
		return fmt.Errorf("cues show %q, want %q", shown, want)
	}
	parsers := map[string]func(string) ([]Cue, error){
		FormatSRT: func(s string) ([]Cue, error) { return subtitle.ParseSRT(strings.NewReader(s)) },
		FormatVTT: func(s string) ([]Cue, error) { return subtitle.ParseVTT(strings.NewReader(s)) },
	}
	for _, format := range []string{FormatSRT, FormatVTT} {
		var buf bytes.Buffer
		if err := Render(&buf, t, format, l); err != nil {
			return fmt.Errorf("%s: %w", format, err)
		}
		check := checkSRTSyntax
		if format == FormatVTT {
			check = checkVTTSyntax
		}
		if err := check(buf.String()); err != nil {
			return fmt.Errorf("%s syntax: %w\n%s", format, err, buf.String())
		}
		parsed, err := parsers[format](buf.String())
		if err != nil {
			return fmt.Errorf("%s does not parse: %w", format, err)
		}
		if len(parsed) != len(cues) || (len(cues) > 0 && !reflect.DeepEqual(parsed, cues)) {
			return fmt.Errorf("%s parsed back as\n%v\nwant\n%v", format, parsed, cues)
		}
	}
	return nil
}

func slicesEqual(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func TestRenderProperties(t *testing.T) {
	t.Parallel()
	layouts := []Layout{{}, {MaxChars: 1, MaxLines: 1}, {MaxChars: 12, MaxLines: 1}, {MaxChars: 20, MaxLines: 3}, {MaxChars: 80, MaxLines: 2}}
	for seed := range uint64(8) {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 0x5eed))
			for i := range 100 {
				tr := genTranscript(r)
				if err := Validate(tr); err != nil {
					t.Fatalf("generated an invalid transcript: %v", err)
				}
				for _, l := range layouts {
					if err := checkRender(tr, l); err != nil {
						t.Fatalf("transcript %d, layout %+v: %v\ntranscript: %+v", i, l, err, tr)
					}
				}
			}
		})
	}
}

func TestRenderGoldenTranscriptsProperties(t *testing.T) {
	t.Parallel()
	for _, l := range []Layout{{}, {MaxChars: 20, MaxLines: 1}, {MaxChars: 60, MaxLines: 3}} {
		for _, tr := range []api.Transcript{withWords(), withoutWords()} {
			if err := checkRender(tr, l); err != nil {
				t.Errorf("layout %+v: %v", l, err)
			}
		}
	}
}

// lineFill must wrap exactly like wrap, or cues could exceed MaxLines.
func TestLineFillMatchesWrap(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		maxChars := 1 + r.IntN(30)
		var toks []token
		var fill lineFill
		for range r.IntN(20) {
			w := strings.Repeat("é", 1+r.IntN(12))
			toks = append(toks, token{text: w})
			fill = fill.with(w, maxChars)
		}
		if got := len(wrap(toks, maxChars)); got != fill.lines {
			t.Fatalf("maxChars %d, tokens %v: wrap has %d lines, lineFill %d", maxChars, toks, got, fill.lines)
		}
	}
}

// paced gives the words of text 0.3 s each with 50 ms between them, plus
// pause[i] seconds of extra silence before word i.
func paced(text string, pause map[int]float64) []api.Word {
	var out []api.Word
	at := 0.0
	for i, w := range strings.Fields(text) {
		at += pause[i]
		out = append(out, api.Word{Word: w, Start: at, End: at + 0.3})
		at += 0.35
	}
	return out
}

func TestBuildCuesBreaksAtPauses(t *testing.T) {
	t.Parallel()
	// With MaxChars 30 on one line, "one two three four five six" fills the
	// first cue and "seven" does not fit; the second half of that cue allows
	// breaks before "four", "five" or "six".
	const text = "one two three four five six seven"
	tests := []struct {
		name  string
		text  string
		pause map[int]float64
		want  []string
	}{
		{"no pause: break at the last fitting word", text, nil,
			[]string{"one two three four five six", "seven"}},
		{"a pause in the second half", text, map[int]float64{3: 0.3},
			[]string{"one two three", "four five six seven"}},
		{"a pause at the threshold counts", text, map[int]float64{4: minBreakGap - 0.05 + 1e-9},
			[]string{"one two three four", "five six seven"}},
		{"a pause below the threshold does not", text, map[int]float64{4: 0.05},
			[]string{"one two three four five six", "seven"}},
		{"a pause in the first half is ignored", text, map[int]float64{2: 0.8},
			[]string{"one two three four five six", "seven"}},
		{"the longest pause wins", text, map[int]float64{3: 0.2, 4: 0.5, 5: 0.3},
			[]string{"one two three four", "five six seven"}},
		{"of equal pauses the later wins", text, map[int]float64{3: 0.4, 5: 0.4},
			[]string{"one two three four five", "six seven"}},
		{"punctuation beats a longer pause", "one two three four, five six seven", map[int]float64{5: 0.6},
			[]string{"one two three four,", "five six seven"}},
		{"a pause of a second or more still ends a cue by itself", text, map[int]float64{1: 1.2},
			[]string{"one", "two three four five six seven"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := paced(tt.text, tt.pause)
			tr := api.Transcript{Segments: []api.Segment{{Start: 0, End: ws[len(ws)-1].End, Words: ws}}}
			var got []string
			for _, c := range BuildCues(tr, Layout{MaxChars: 30, MaxLines: 1}) {
				got = append(got, c.Text)
			}
			if !slicesEqual(got, tt.want) {
				t.Errorf("cues = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBreakPoint(t *testing.T) {
	t.Parallel()
	tok := func(text string, start, end float64) token { return token{text, start, end} }
	tests := []struct {
		name string
		toks []token
		want int
	}{
		{"one token", []token{tok("a", 0, 1)}, 1},
		{"no times (spread text)", []token{tok("aa", 0, 0), tok("bb", 0, 0), tok("cc", 0, 0)}, 3},
		{"pause before the last token", []token{tok("aa", 0, 1), tok("bb", 1, 2), tok("cc", 2.2, 3)}, 2},
		{"overlapping words are no pause", []token{tok("aa", 0, 1), tok("bb", 0.5, 2), tok("cc", 1.5, 3)}, 3},
		{"pause only in the first half", []token{tok("aa", 0, 1), tok("bb", 1.5, 2), tok("cc", 2, 3), tok("dd", 3, 4)}, 4},
		{"punctuation before a pause", []token{tok("aa", 0, 1), tok("bb,", 1, 2), tok("cc", 2, 3), tok("dd", 3.5, 4)}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := breakPoint(tt.toks); got != tt.want {
				t.Errorf("breakPoint = %d, want %d", got, tt.want)
			}
		})
	}
}
