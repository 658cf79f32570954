package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ytcaption/ytcaption/test/media"
)

// wavSpec describes a hand-made WAV file.
type wavSpec struct {
	format   uint16 // default PCM
	channels uint16 // default 1
	bits     uint16 // default 16
	rate     uint32 // default SampleRate
	before   [][2]string
	dataSize *uint32 // default the real size
	samples  int     // 16-bit samples of a ramp
	noFmt    bool
}

func (s wavSpec) bytes() []byte {
	if s.format == 0 {
		s.format = wavFormatPCM
	}
	if s.channels == 0 {
		s.channels = 1
	}
	if s.bits == 0 {
		s.bits = 16
	}
	if s.rate == 0 {
		s.rate = SampleRate
	}
	le := binary.LittleEndian
	var body bytes.Buffer
	body.WriteString("WAVE")
	chunk := func(id string, data []byte, size uint32) {
		body.WriteString(id)
		_ = binary.Write(&body, le, size)
		body.Write(data)
		if len(data)%2 == 1 {
			body.WriteByte(0)
		}
	}
	for _, c := range s.before {
		chunk(c[0], []byte(c[1]), uint32(len(c[1])))
	}
	if !s.noFmt {
		align := s.channels * s.bits / 8
		f := le.AppendUint16(nil, s.format)
		f = le.AppendUint16(f, s.channels)
		f = le.AppendUint32(f, s.rate)
		f = le.AppendUint32(f, s.rate*uint32(align))
		f = le.AppendUint16(f, align)
		f = le.AppendUint16(f, s.bits)
		if s.format == wavFormatExtensible {
			f = le.AppendUint16(f, 22)
			f = le.AppendUint16(f, s.bits)
			f = le.AppendUint32(f, 4)
			f = le.AppendUint16(f, wavFormatPCM)
			f = append(f, "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"...)
		}
		chunk("fmt ", f, uint32(len(f)))
	}
	data := ramp(s.samples)
	size := uint32(len(data))
	if s.dataSize != nil {
		size = *s.dataSize
	}
	chunk("data", data, size)
	out := append([]byte("RIFF"), le.AppendUint32(nil, uint32(body.Len()))...)
	return append(out, body.Bytes()...)
}

// ramp is n 16-bit samples, each different from its neighbours.
func ramp(n int) []byte {
	b := make([]byte, 0, 2*n)
	for i := range n {
		b = binary.LittleEndian.AppendUint16(b, uint16(i*7+1))
	}
	return b
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.wav")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func u32(v uint32) *uint32 { return &v }

func TestWAVHeader(t *testing.T) {
	t.Parallel()
	const n = 32000
	tests := []struct {
		name     string
		data     []byte
		duration float64 // -1: WAVDuration fails
		splitErr string  // "" when SplitWAV accepts it
	}{
		{"plain", wavSpec{samples: n}.bytes(), 2, ""},
		{"LIST and odd-sized chunks before fmt and data", wavSpec{samples: n, before: [][2]string{{"LIST", "INFOISFT\x05\x00\x00\x00Lavf"}, {"junk", "abc"}}}.bytes(), 2, ""},
		{"data size 0 runs to end of file", wavSpec{samples: n, dataSize: u32(0)}.bytes(), 2, ""},
		{"data size 0xFFFFFFFF runs to end of file", wavSpec{samples: n, dataSize: u32(math.MaxUint32)}.bytes(), 2, ""},
		{"truncated data", wavSpec{samples: n, dataSize: u32(4 * n)}.bytes(), 2, ""},
		{"odd trailing byte ignored", append(wavSpec{samples: n, dataSize: u32(0)}.bytes(), 9), 2, ""},
		{"extensible PCM", wavSpec{samples: n, format: wavFormatExtensible}.bytes(), 2, ""},
		{"empty data", wavSpec{}.bytes(), 0, ""},
		{"float", wavSpec{samples: n, format: 3, bits: 32}.bytes(), 1, "want 16-bit mono PCM"},
		{"stereo", wavSpec{samples: n, channels: 2}.bytes(), 1, "2 channels"},
		{"8-bit", wavSpec{samples: n, bits: 8}.bytes(), 4, "8 bits"},
		{"no fmt chunk", wavSpec{samples: n, noFmt: true}.bytes(), -1, "data chunk before its fmt chunk"},
		{"not RIFF", []byte("ID3\x04 this is an mp3, honest"), -1, "not a RIFF/WAVE file"},
		{"RF64", append([]byte("RF64\xff\xff\xff\xffWAVE"), make([]byte, 40)...), -1, "RF64"},
		{"too short", []byte("RIFF"), -1, "not a RIFF/WAVE file"},
		{"no data chunk", wavSpec{}.bytes()[:36], -1, "no data chunk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := writeFile(t, tt.data)
			d, err := WAVDuration(in)
			if tt.duration < 0 {
				if err == nil {
					t.Errorf("WAVDuration = %v, want an error", d)
				}
			} else if err != nil || d != tt.duration {
				t.Errorf("WAVDuration = %v, %v, want %v", d, err, tt.duration)
			}
			_, err = SplitWAV(in, nil, t.TempDir())
			switch {
			case tt.splitErr == "" && err != nil:
				t.Errorf("SplitWAV: %v", err)
			case tt.splitErr != "" && (err == nil || !strings.Contains(err.Error(), tt.splitErr)):
				t.Errorf("SplitWAV error = %v, want one containing %q", err, tt.splitErr)
			}
		})
	}
}

func TestSplitWAV(t *testing.T) {
	t.Parallel()
	const n = 5 * SampleRate
	src := wavSpec{samples: n, before: [][2]string{{"LIST", "INFOISFT\x05\x00\x00\x00Lavf\x00"}}, dataSize: u32(math.MaxUint32)}.bytes()
	pcm := ramp(n)
	tests := []struct {
		name    string
		cuts    []float64
		samples []int64 // chunk boundaries, in samples
		err     string
	}{
		{"no cuts copies", nil, []int64{0, n}, ""},
		{"exact cuts", []float64{1, 2.5}, []int64{0, 16000, 40000, n}, ""},
		{"cuts round to the nearest sample", []float64{1.00003, 1.00004}, []int64{0, 16000, 16001, n}, ""},
		{"one sample chunks", []float64{1 / float64(SampleRate), 2 / float64(SampleRate)}, []int64{0, 1, 2, n}, ""},
		{"last sample alone", []float64{float64(n-1) / SampleRate}, []int64{0, n - 1, n}, ""},
		{"cut at zero", []float64{0}, nil, "cut 0"},
		{"cut at the end", []float64{5}, nil, "cut 0"},
		{"cut past the end", []float64{1, 6}, nil, "cut 1"},
		{"cuts not increasing", []float64{2, 1}, nil, "cut 1"},
		{"cuts on the same sample", []float64{1, 1.00001}, nil, "cut 1"},
		{"NaN cut", []float64{math.NaN()}, nil, "cut 0"},
		{"negative cut", []float64{-1}, nil, "cut 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := writeFile(t, src)
			dir := t.TempDir()
			chunks, err := SplitWAV(in, tt.cuts, dir)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("SplitWAV error = %v, want one containing %q", err, tt.err)
				}
				if left, _ := os.ReadDir(dir); len(left) > 0 {
					t.Errorf("files left behind: %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(chunks) != len(tt.samples)-1 {
				t.Fatalf("%d chunks, want %d", len(chunks), len(tt.samples)-1)
			}
			var joined []byte
			for i, c := range chunks {
				from, to := tt.samples[i], tt.samples[i+1]
				want := ChunkFile{Index: i, Start: float64(from) / SampleRate, End: float64(to) / SampleRate,
					Path: filepath.Join(dir, []string{"chunk-000.wav", "chunk-001.wav", "chunk-002.wav"}[i])}
				if c != want {
					t.Errorf("chunk %d = %+v, want %+v", i, c, want)
				}
				data := readPCM(t, c.Path)
				if int64(len(data)) != 2*(to-from) {
					t.Errorf("chunk %d has %d samples, want %d", i, len(data)/2, to-from)
				}
				joined = append(joined, data...)
			}
			if !bytes.Equal(joined, pcm) {
				t.Error("the chunks' samples are not the original's")
			}
		})
	}
}

// readPCM checks that path is a canonical 16 kHz mono 16-bit WAV and returns
// its samples.
func readPCM(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := readWAVHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.checkS16Mono(); err != nil || h.rate != SampleRate {
		t.Fatalf("%s: rate %d, %v", path, h.rate, err)
	}
	all, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.dataOff != 44 || int64(len(all)) != 44+h.dataLen || binary.LittleEndian.Uint32(all[4:8]) != uint32(len(all)-8) {
		t.Fatalf("%s: header sizes do not match the file's %d bytes", path, len(all))
	}
	return all[h.dataOff:]
}

func TestParseSilences(t *testing.T) {
	t.Parallel()
	const log = `Input #0, wav, from 'file:/tmp/x.wav':
  Duration: 00:00:10.00, bitrate: 256 kb/s
[silencedetect @ 0x55ed7efb29c0] silence_start: -0.0123
[silencedetect @ 0x55ed7efb29c0] silence_end: 0.211938 | silence_duration: 0.224
size=N/A time=00:00:05.00 bitrate=N/A speed= 500x
[silencedetect @ 0x55ed7efb29c0] silence_start: 4.01912
[silencedetect @ 0x55ed7efb29c0] silence_end: 4.53656 | silence_duration: 0.51744
[silencedetect @ 0x55ed7efb29c0] silence_start: 9.5
`
	tests := []struct {
		name     string
		log      string
		duration float64
		want     []Silence
	}{
		{"ffmpeg output, trailing start ends at duration", log, 10,
			[]Silence{{0, 0.211938}, {4.01912, 4.53656}, {9.5, 10}}},
		{"trailing start without a duration is dropped", log, 0,
			[]Silence{{0, 0.211938}, {4.01912, 4.53656}}},
		{"clamped to the duration", "silence_start: 1\nsilence_end: 12 | x\n", 10, []Silence{{1, 10}}},
		{"nothing", "", 10, nil},
		{"end without start is ignored", "silence_end: 3\nsilence_start: 4\nsilence_end: 5\n", 10, []Silence{{4, 5}}},
		{"second start keeps the first", "silence_start: 1\nsilence_start: 2\nsilence_end: 3\n", 10, []Silence{{1, 3}}},
		{"garbage values skipped", "silence_start: abc\nsilence_start: NaN\nsilence_start: 2\nsilence_end: Inf\nsilence_end: 2.5\n", 10, []Silence{{2, 2.5}}},
		{"end before start dropped", "silence_start: 3\nsilence_end: 2\n", 10, nil},
		{"overlap with the previous is trimmed", "silence_start: 1\nsilence_end: 3\nsilence_start: 2\nsilence_end: 4\n", 10, []Silence{{1, 3}, {3, 4}}},
		{"carriage returns and no final newline", "silence_start: 1\rsilence_end: 2", 10, []Silence{{1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ParseSilences([]byte(tt.log), tt.duration)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSilences = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParseSilences(f *testing.F) {
	f.Add([]byte("silence_start: 1\nsilence_end: 2 | silence_duration: 1\nsilence_start: 5\n"), 10.0)
	f.Add([]byte("silence_start: -1e300\nsilence_end: 1e308\n"), 0.0)
	f.Add([]byte("silence_end: 1\n"), math.Inf(1))
	f.Fuzz(func(t *testing.T, log []byte, duration float64) {
		prev := 0.0
		for i, s := range ParseSilences(log, duration) {
			if !(s.Start >= prev && s.End >= s.Start) || duration > 0 && s.End > duration {
				t.Fatalf("silence %d = %+v after %v (duration %v)", i, s, prev, duration)
			}
			prev = s.End
		}
	})
}

func TestCuts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		duration float64
		silences []Silence
		target   float64
		want     []float64
	}{
		{"no target", 100, nil, 0, nil},
		{"negative target", 100, nil, -5, nil},
		{"NaN target", 100, nil, math.NaN(), nil},
		{"NaN duration", math.NaN(), nil, 10, nil},
		{"infinite duration", math.Inf(1), nil, 10, nil},
		{"shorter than two chunks", 19.9, nil, 10, nil},
		{"exactly two chunks", 20, nil, 10, []float64{10}},
		{"hard cuts without silences", 35, nil, 10, []float64{10, 20, 30}},
		{"short remainder joins the last chunk", 34.9, nil, 10, []float64{10, 20}},
		{"remainder of half a chunk stays", 35, nil, 10, []float64{10, 20, 30}},
		{"cut at a silence's midpoint", 30, []Silence{{11, 12}}, 10, []float64{11.5, 21.5}},
		{"silence outside the window is ignored", 30, []Silence{{12.6, 13}}, 10, []float64{10, 20}},
		{"window edge is inside", 30, []Silence{{12.4, 12.6}}, 10, []float64{12.5, 22.5}},
		{"longest silence in the window wins", 30, []Silence{{9.9, 10.1}, {7.6, 8.4}, {11, 11.3}}, 10, []float64{8, 18}},
		{"equal lengths: nearest wins", 30, []Silence{{7.6, 8}, {10.6, 11}, {11.6, 12}}, 10, []float64{10.8, 20.8}},
		{"unsorted silences", 40, []Silence{{31, 31.2}, {9, 9.2}, {19.5, 19.7}}, 10, []float64{9.1, 19.6, 31.1}},
		{"silence cuts drift with the previous cut", 45, []Silence{{12, 12.4}, {24, 24.4}, {35, 35.4}}, 10, []float64{12.2, 24.2, 35.2}},
		{"silence leaving a short remainder is dropped", 30, []Silence{{10, 10.2}, {22, 22.4}, {27, 27.2}}, 10, []float64{10.1, 22.2}},
		{"silence past the duration is ignored", 20, []Silence{{11, 25}}, 10, []float64{10}},
		{"silence at zero is ignored", 20, []Silence{{-1, 1}}, 10, []float64{10}},
		{"silence before the last cut is not reused", 30, []Silence{{7.5, 13.5}}, 10, []float64{10.5, 20.5}},
		{"zero-length silence still counts", 30, []Silence{{11, 11}}, 10, []float64{11, 21}},
		{"invalid silences are ignored", 30, []Silence{{math.NaN(), 11}, {12, 11}, {math.Inf(-1), math.Inf(1)}}, 10, []float64{10, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Cuts(tt.duration, tt.silences, tt.target)
			if len(got) != len(tt.want) {
				t.Fatalf("Cuts = %v, want %v", got, tt.want)
			}
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-9 {
					t.Fatalf("Cuts = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func FuzzCuts(f *testing.F) {
	f.Add(100.0, 10.0, 11.0, 12.0, 50.0, 50.5)
	f.Add(20.0, 10.0, 0.0, 0.0, 0.0, 0.0)
	f.Add(7200.0, 0.001, 1.0, 2.0, 3.0, 4.0)
	f.Fuzz(func(t *testing.T, duration, target, s1, e1, s2, e2 float64) {
		cuts := Cuts(duration, []Silence{{s1, e1}, {s2, e2}}, target)
		if len(cuts) > maxChunks {
			t.Fatalf("%d cuts", len(cuts))
		}
		last := 0.0
		for i, c := range cuts {
			if !(c > last && c < duration) {
				t.Fatalf("cut %d = %v after %v (duration %v, target %v)", i, c, last, duration, target)
			}
			last = c
		}
		if len(cuts) > 0 && duration-last < max(target, duration/maxChunks)/2 {
			t.Fatalf("final chunk %v shorter than half of %v", duration-last, target)
		}
	})
}

// speechWithPauses speaks sentences with flite, joined by pause seconds of
// silence, and extracts it as Extract does.
func speechWithPauses(t *testing.T, ff *FFmpeg, pause float64, sentences ...string) string {
	t.Helper()
	for _, bin := range []string{"flite", "ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed; run test/env/bootstrap.sh to install the media tools", bin)
		}
	}
	dir := t.TempDir()
	args := []string{"-nostdin", "-y", "-v", "error"}
	var filter strings.Builder
	for i, s := range sentences {
		args = append(args, "-i", media.Speech(t, s))
		// Pad every sentence but the last with silence.
		if i < len(sentences)-1 {
			filter.WriteString("[" + strconv.Itoa(i) + ":a]apad=pad_dur=" + strconv.FormatFloat(pause, 'f', -1, 64) + "[p" + strconv.Itoa(i) + "];")
		} else {
			filter.WriteString("[" + strconv.Itoa(i) + ":a]anull[p" + strconv.Itoa(i) + "];")
		}
	}
	for i := range sentences {
		filter.WriteString("[p" + strconv.Itoa(i) + "]")
	}
	filter.WriteString("concat=n=" + strconv.Itoa(len(sentences)) + ":v=0:a=1")
	joined := filepath.Join(dir, "joined.wav")
	args = append(args, "-filter_complex", filter.String(), joined)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
	wav := filepath.Join(dir, "speech16k.wav")
	if err := ff.Extract(context.Background(), joined, wav); err != nil {
		t.Fatal(err)
	}
	return wav
}

func TestSplitSpeechAtSilences(t *testing.T) {
	t.Parallel()
	ff := New(Config{})
	ctx := context.Background()
	wav := speechWithPauses(t, ff, 1.5,
		"The first sentence talks about the weather today.",
		"A second sentence follows after a long pause.",
		"Then a third one comes along.",
		"And the fourth sentence ends the recording.")
	duration, err := WAVDuration(wav)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ff.Probe(ctx, wav)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.Duration-duration) > 0.01 {
		t.Fatalf("WAVDuration = %v, ffprobe says %v", duration, p.Duration)
	}
	silences, err := ff.Silences(ctx, wav)
	if err != nil {
		t.Fatal(err)
	}
	long := 0
	for _, s := range silences {
		if s.End-s.Start >= 1.2 && s.Start > 0.5 && s.End < duration-0.5 {
			long++
		}
	}
	if long < 3 {
		t.Fatalf("found %d long pauses between the 4 sentences in %v (%v s)", long, silences, duration)
	}

	// Each sentence takes about 2.5 s and each pause 1.5 s, so every ideal
	// cut 4 s after the last falls within a second of a pause's middle.
	target := 4.0
	cuts := Cuts(duration, silences, target)
	if len(cuts) < 2 {
		t.Fatalf("Cuts(%v, %v, %v) = %v", duration, silences, target, cuts)
	}
	for _, c := range cuts {
		if !inSilence(c, silences) {
			t.Errorf("cut %v is not in a silence of %v", c, silences)
		}
	}
	dir := t.TempDir()
	chunks, err := SplitWAV(wav, cuts, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != len(cuts)+1 {
		t.Fatalf("%d chunks for %d cuts", len(chunks), len(cuts))
	}
	var joined []byte
	for i, c := range chunks {
		cp, err := ff.Probe(ctx, c.Path)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if cp.AudioCodec != "pcm_s16le" || cp.SampleRate != SampleRate || cp.Channels != 1 || math.Abs(cp.Duration-(c.End-c.Start)) > 0.001 {
			t.Errorf("chunk %d %+v: ffprobe says %+v", i, c, cp)
		}
		if i > 0 && c.Start != chunks[i-1].End {
			t.Errorf("chunk %d starts at %v, the previous ends at %v", i, c.Start, chunks[i-1].End)
		}
		joined = append(joined, readPCM(t, c.Path)...)
	}
	if chunks[0].Start != 0 || math.Abs(chunks[len(chunks)-1].End-duration) > 1e-9 {
		t.Errorf("chunks span [%v, %v], want [0, %v]", chunks[0].Start, chunks[len(chunks)-1].End, duration)
	}
	if !bytes.Equal(joined, readSamples(t, wav)) {
		t.Errorf("the chunks' %d bytes of PCM differ from the original's", len(joined))
	}
}

func inSilence(at float64, silences []Silence) bool {
	for _, s := range silences {
		if at >= s.Start && at <= s.End {
			return true
		}
	}
	return false
}

// readSamples returns the PCM of an ffmpeg-written WAV.
func readSamples(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := readWAVHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, h.dataLen)
	if _, err := f.ReadAt(b, h.dataOff); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSilencesFailures(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed; run test/env/bootstrap.sh to install the media tools")
	}
	ff := New(Config{})
	if _, err := ff.Silences(context.Background(), filepath.Join(t.TempDir(), "missing.wav")); err == nil {
		t.Error("Silences of a missing file succeeded")
	}
	// A valid header over samples ffmpeg still reads: silence all through.
	quiet := wavSpec{dataSize: u32(0)}.bytes()
	quiet = append(quiet, make([]byte, 2*SampleRate)...)
	got, err := ff.Silences(context.Background(), writeFile(t, quiet))
	if err != nil || len(got) != 1 || got[0].Start != 0 || got[0].End != 1 {
		t.Errorf("Silences of one second of silence = %v, %v", got, err)
	}
}
