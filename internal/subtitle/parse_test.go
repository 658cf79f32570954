package subtitle

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

func TestParseSRT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []Cue
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "only blank lines", in: "\n\n \n", want: nil},
		{
			name: "plain",
			in:   "1\n00:00:01,000 --> 00:00:02,500\nHello\nworld\n\n2\n00:00:03,000 --> 00:00:04,000\nBye\n",
			want: []Cue{{1, 2.5, "Hello\nworld"}, {3, 4, "Bye"}},
		},
		{
			name: "BOM, CRLF and trailing spaces",
			in:   "\uFEFF1\r\n00:00:01,000 --> 00:00:02,000  \r\nHi  \r\n\r\n",
			want: []Cue{{1, 2, "Hi"}},
		},
		{
			name: "old Mac line ends",
			in:   "1\r00:00:01,000 --> 00:00:02,000\rHi\r\r",
			want: []Cue{{1, 2, "Hi"}},
		},
		{
			name: "coordinates, dots, short fractions, no hours",
			in:   "7\n00:00:01.5 --> 01:02,25 X1:10 X2:20 Y1:5 Y2:9\nText\n",
			want: []Cue{{1.5, 62.25, "Text"}},
		},
		{
			name: "missing cue numbers and many blank lines",
			in:   "\n\n00:00:01,000 --> 00:00:02,000\nA\n\n\n\n00:00:03,000 --> 00:00:04,000\nB",
			want: []Cue{{1, 2, "A"}, {3, 4, "B"}},
		},
		{
			name: "blank line inside a cue continues it",
			in:   "1\n00:00:01,000 --> 00:00:02,000\nfirst\n\nsecond\n\n2\n00:00:03,000 --> 00:00:04,000\nB\n",
			want: []Cue{{1, 2, "first\nsecond"}, {3, 4, "B"}},
		},
		{
			name: "cue without text",
			in:   "1\n00:00:01,000 --> 00:00:02,000\n\n",
			want: []Cue{{1, 2, ""}},
		},
		{
			name: "text is kept verbatim (markup is SRT's own business)",
			in:   "1\n00:00:01,000 --> 00:00:02,000\n<i>a &amp; b</i> --> c\n",
			want: []Cue{{1, 2, "<i>a &amp; b</i> --> c"}},
		},
		{
			name: "long hours",
			in:   "1\n123:00:00,000 --> 123:00:01,000\nx\n",
			want: []Cue{{442800, 442801, "x"}},
		},
		{name: "garbage first", in: "hello\nworld\n", wantErr: "srt line 1"},
		{name: "bad timestamp", in: "1\n00:00:01,000 --> soon\nx\n", wantErr: "srt line 2"},
		{name: "minutes out of range", in: "1\n00:61:00,000 --> 00:62:00,000\nx\n", wantErr: "bad timestamp"},
		{name: "negative", in: "1\n-00:00:01,000 --> 00:00:02,000\nx\n", wantErr: "bad timestamp"},
		{name: "four fraction digits", in: "1\n00:00:01,0000 --> 00:00:02,000\nx\n", wantErr: "bad timestamp"},
		{name: "no end time", in: "1\n00:00:01,000 -->\nx\n", wantErr: "no end time"},
		{name: "index without timing", in: "1\n\n", wantErr: "srt line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSRT(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSRT error = %v, want ErrSyntax mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSRT:\ngot  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

const youtubeVTT = "WEBVTT\nKind: captions\nLanguage: en\n\n" +
	"00:00:00.160 --> 00:00:02.350 align:start position:0%\n \n" +
	"hello<00:00:00.480><c> world</c><00:00:01.000><c> again</c>\n\n" +
	"00:00:02.350 --> 00:00:02.360 align:start position:0%\nhello world again\n \n\n" +
	"00:00:02.360 --> 00:00:04.000 align:start position:0%\nhello world again\n" +
	"<c.colorE5E5E5>next</c><00:00:02.800><c> words</c>\n"

func TestParseVTT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []Cue
		wantErr bool
	}{
		{name: "header only", in: "WEBVTT\n", want: nil},
		{name: "header with text", in: "WEBVTT - some title\n\n00:01.000 --> 00:02.000\nx\n", want: []Cue{{1, 2, "x"}}},
		{
			name: "identifiers, settings, NOTE, STYLE, REGION",
			in: "\uFEFFWEBVTT\r\n\r\nREGION\r\nid:fred width:40%\r\n\r\nSTYLE\r\n::cue { color: red }\r\n\r\n" +
				"NOTE a comment\r\nthat spans lines --> with an arrow\r\n\r\n" +
				"intro\r\n00:00:01.000 --> 00:00:02.000 line:0 position:20% align:start\r\nHello\r\n\r\n" +
				"NOTE\r\n\r\n2\r\n00:00:02.000 --> 00:00:03.500\r\nthere\r\n",
			want: []Cue{{1, 2, "Hello"}, {2, 3.5, "there"}},
		},
		{
			name: "markup and character references",
			in:   "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Roger Bingham><i>We</i> &amp; <b>you</b> &lt;3&gt;&nbsp;it\n",
			want: []Cue{{1, 2, "We & you <3>\u00a0it"}},
		},
		{
			name: "YouTube automatic captions",
			in:   youtubeVTT,
			want: []Cue{
				{0.16, 2.35, "hello world again"},
				{2.35, 2.36, "hello world again"},
				{2.36, 4, "hello world again\nnext words"},
			},
		},
		{
			name: "a timing line ends the previous payload",
			in:   "WEBVTT\n\n00:01.000 --> 00:02.000\na\n00:02.000 --> 00:03.000\nb\n",
			want: []Cue{{1, 2, "a"}, {2, 3, "b"}},
		},
		{
			name: "bad blocks are skipped",
			in:   "WEBVTT\n\n00:01.000 --> later\nskipped\n\nstray text\n\n00:02.000 --> 00:03.000\nkept\n",
			want: []Cue{{2, 3, "kept"}},
		},
		{
			name: "unclosed tag runs to the end of the line",
			in:   "WEBVTT\n\n00:01.000 --> 00:02.000\nkeep <c unclosed\nnext\n",
			want: []Cue{{1, 2, "keep\nnext"}},
		},
		{name: "no header", in: "00:01.000 --> 00:02.000\nx\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "WEBVTTX is not a header", in: "WEBVTTX\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseVTT(strings.NewReader(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("ParseVTT error = %v, want ErrSyntax", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseVTT:\ngot  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTranscript(t *testing.T) {
	t.Parallel()
	cues := []Cue{
		{3, 4, "third"},
		{1, 2, "first\nline"},
		{2, 2, "  "},
		{2, 1.5, "backwards"},
		{5, 6, "<i>a &amp; b</i> <3 <font color=\"red\">red</font>\u00a0x\x07"},
	}
	got := Transcript(cues, "en")
	want := api.Transcript{
		Language: "en",
		Duration: 6,
		Text:     "first line backwards third a &amp; b <3 red x",
		Segments: []api.Segment{
			{Start: 1, End: 2, Text: "first line"},
			{Start: 2, End: 2, Text: "backwards"},
			{Start: 3, End: 4, Text: "third"},
			{Start: 5, End: 6, Text: "a &amp; b <3 red x"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Transcript:\ngot  %+v\nwant %+v", got, want)
	}
	if cues[0].Text != "third" {
		t.Error("Transcript reordered its input")
	}
	if empty := Transcript(nil, "de"); empty.Segments == nil || empty.Language != "de" {
		t.Errorf("Transcript(nil) = %+v, want empty segments", empty)
	}
}

// A YouTube track as yt-dlp writes it: header fields, STYLE and NOTE blocks,
// voice and class markup, inline word times, entities, rolling lines, a cue
// that only repeats, and a timing line with no blank line before it.
func TestTranscriptYouTubeTrack(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/youtube_rolling.vtt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cues, err := ParseVTT(f)
	if err != nil {
		t.Fatal(err)
	}
	got := Transcript(cues, "en")
	want := []api.Segment{
		{Start: 0, End: 2.5, Text: "We're no strangers to love"},
		{Start: 2.5, End: 5.5, Text: "You know the rules and so do I"},
		{Start: 60, End: 61.5, Text: "no blank line before this cue"},
		{Start: 3605, End: 3606.25, Text: "A full commitment&more here"},
	}
	if !reflect.DeepEqual(got.Segments, want) {
		t.Errorf("segments:\ngot  %+v\nwant %+v", got.Segments, want)
	}
	if got.Duration != 3606.25 || !strings.HasPrefix(got.Text, "We're no strangers to love You know") {
		t.Errorf("transcript = %+v", got)
	}
}

// YouTube's automatic captions roll: each cue repeats the line before.
func TestTranscriptRollingCaptions(t *testing.T) {
	t.Parallel()
	cues, err := ParseVTT(strings.NewReader(youtubeVTT))
	if err != nil {
		t.Fatal(err)
	}
	got := Transcript(cues, "en").Segments
	want := []api.Segment{{Start: 0.16, End: 2.36, Text: "hello world again"}, {Start: 2.36, End: 4, Text: "next words"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
