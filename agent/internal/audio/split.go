package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Silence is a span of silence in seconds, as ffmpeg's silencedetect finds it.
type Silence struct{ Start, End float64 }

// Silence detection settings: quieter than -35 dB for at least 0.3 s, about
// the pause between sentences, and longer than the gaps inside words.
const silenceFilter = "silencedetect=noise=-35dB:d=0.3"

// Silences finds the silences of the WAV file wav (as Extract writes) with
// ffmpeg's silencedetect filter. Only local files are read, as in Extract.
func (f *FFmpeg) Silences(ctx context.Context, wav string) ([]Silence, error) {
	duration, err := WAVDuration(wav)
	if err != nil {
		return nil, err
	}
	args := []string{"-nostdin", "-hide_banner", "-nostats", "-v", "info",
		"-protocol_whitelist", "file,pipe",
		"-i", fileURL(wav),
		"-vn", "-sn", "-dn", "-map", "0:a:0",
		"-af", silenceFilter, "-f", "null", "-"}
	lines, err := f.runLines(ctx, f.cfg.ExtractTimeout, f.cfg.FFmpeg, args, "silence_")
	if err != nil {
		return nil, err
	}
	return ParseSilences(lines, duration), nil
}

// ParseSilences reads the "silence_start: S" and "silence_end: E" lines
// silencedetect logs. A silence_start without an end (silence up to the end
// of the media) ends at duration; when duration is not positive it is
// dropped. Times are clamped to [0, duration] (ffmpeg can log a slightly
// negative start); unparsable or out-of-order values are skipped. The result
// is ordered, without overlaps, each Start <= End.
func ParseSilences(stderr []byte, duration float64) []Silence {
	if math.IsNaN(duration) || math.IsInf(duration, 0) {
		duration = 0
	}
	clamp := func(v float64) float64 {
		v = max(v, 0)
		if duration > 0 {
			v = min(v, duration)
		}
		return v
	}
	var out []Silence
	open, start := false, 0.0
	lines := bytes.FieldsFunc(stderr, func(r rune) bool { return r == '\n' || r == '\r' })
	for _, line := range lines {
		if v, ok := silenceValue(line, "silence_start:"); ok {
			if !open {
				open, start = true, clamp(v)
			}
			continue
		}
		v, ok := silenceValue(line, "silence_end:")
		if !ok || !open {
			continue
		}
		open = false
		end := clamp(v)
		if n := len(out); n > 0 && start < out[n-1].End {
			start = out[n-1].End
		}
		if end >= start {
			out = append(out, Silence{start, end})
		}
	}
	if open && duration > 0 {
		if n := len(out); n > 0 && start < out[n-1].End {
			start = out[n-1].End
		}
		if duration >= start {
			out = append(out, Silence{start, duration})
		}
	}
	return out
}

// silenceValue parses the number after key in line, if key is there.
func silenceValue(line []byte, key string) (float64, bool) {
	_, rest, ok := strings.Cut(string(line), key)
	if !ok {
		return 0, false
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// maxChunks bounds how many chunks Cuts makes, so an absurdly small target
// cannot make it loop (nearly) forever.
const maxChunks = 100_000

// Cuts chooses where to split media of duration seconds into chunks of about
// target seconds, preferring silences so no word is cut in two. For each
// next ideal cut, target after the previous one, it takes the midpoint of the
// longest silence whose midpoint lies within target/4 of it (ties go to the
// nearest), else cuts at exactly the ideal point. A final chunk shorter than
// target/2 is merged into the one before. The cuts are strictly increasing,
// each in (0, duration); there are none (nil) when target <= 0 or duration
// < 2*target. A target giving more than 100000 chunks is raised to
// duration/100000.
func Cuts(duration float64, silences []Silence, target float64) []float64 {
	if !(target > 0) || !(duration >= 2*target) || math.IsInf(duration, 0) {
		return nil
	}
	target = max(target, duration/maxChunks)
	type mid struct{ at, length float64 }
	mids := make([]mid, 0, len(silences))
	for _, s := range silences {
		m := mid{(s.Start + s.End) / 2, s.End - s.Start}
		if m.at > 0 && m.at < duration && m.length >= 0 && !math.IsInf(m.length, 0) {
			mids = append(mids, m)
		}
	}
	slices.SortFunc(mids, func(a, b mid) int { return cmpFloat(a.at, b.at) })

	var cuts []float64
	last := 0.0
	for ideal := target; ideal < duration; ideal = last + target {
		lo, hi := max(ideal-target/4, last), min(ideal+target/4, duration)
		cut, best := ideal, -1
		i, _ := slices.BinarySearchFunc(mids, lo, func(m mid, v float64) int { return cmpFloat(m.at, v) })
		for ; i < len(mids) && mids[i].at <= hi; i++ {
			m := mids[i]
			if m.at <= last {
				continue
			}
			if best < 0 || m.length > mids[best].length ||
				m.length == mids[best].length && math.Abs(m.at-ideal) < math.Abs(mids[best].at-ideal) {
				best = i
			}
		}
		if best >= 0 {
			cut = mids[best].at
		}
		cuts = append(cuts, cut)
		last = cut
	}
	if n := len(cuts); n > 0 && duration-cuts[n-1] < target/2 {
		cuts = cuts[:n-1]
	}
	return cuts
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ChunkFile is one piece of a split WAV: its position in the media, in
// seconds from the original's first sample, and where it was written.
type ChunkFile struct {
	Index      int
	Start, End float64
	Path       string
}

// SplitWAV splits in, a 16-bit mono PCM WAV such as Extract writes, at cuts
// (seconds, strictly increasing, inside the audio) into len(cuts)+1 WAV
// files chunk-000.wav, chunk-001.wav, ... in dir. Each cut falls on sample
// round(cut × sample rate), so the chunks' samples are exactly the
// original's. The data is streamed, never read whole into memory. On error
// no chunk file is left behind.
func SplitWAV(in string, cuts []float64, dir string) (chunks []ChunkFile, err error) {
	f, err := os.Open(in)
	if err != nil {
		return nil, fmt.Errorf("split wav: %w", err)
	}
	defer f.Close()
	h, err := readWAVHeader(f)
	if err != nil {
		return nil, fmt.Errorf("split wav %s: %w", in, err)
	}
	if err := h.checkS16Mono(); err != nil {
		return nil, fmt.Errorf("split wav %s: %w", in, err)
	}
	total := h.dataLen / 2
	bounds := make([]int64, 0, len(cuts)+2)
	bounds = append(bounds, 0)
	for i, c := range cuts {
		s := int64(math.Round(c * float64(h.rate)))
		if math.IsNaN(c) || s <= bounds[len(bounds)-1] || s >= total {
			return nil, fmt.Errorf("split wav %s: cut %d at %gs is not after the previous cut and inside the %d samples of audio", in, i, c, total)
		}
		bounds = append(bounds, s)
	}
	bounds = append(bounds, total)

	defer func() {
		if err != nil {
			for _, c := range chunks {
				_ = os.Remove(c.Path)
			}
			chunks = nil
		}
	}()
	for i := range len(bounds) - 1 {
		from, to := bounds[i], bounds[i+1]
		c := ChunkFile{
			Index: i,
			Start: float64(from) / float64(h.rate),
			End:   float64(to) / float64(h.rate),
			Path:  filepath.Join(dir, fmt.Sprintf("chunk-%03d.wav", i)),
		}
		chunks = append(chunks, c)
		section := io.NewSectionReader(f, h.dataOff+2*from, 2*(to-from))
		if err := writeWAV(c.Path, h.rate, section, 2*(to-from)); err != nil {
			return chunks, fmt.Errorf("split wav %s: %w", in, err)
		}
	}
	return chunks, nil
}

// WAVDuration is the length in seconds of the PCM WAV file at path, from its
// header and size.
func WAVDuration(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("wav duration: %w", err)
	}
	defer f.Close()
	h, err := readWAVHeader(f)
	if err != nil {
		return 0, fmt.Errorf("wav duration %s: %w", path, err)
	}
	return float64(h.dataLen/int64(h.blockAlign)) / float64(h.rate), nil
}

// Audio format tags of the WAV "fmt " chunk.
const (
	wavFormatPCM        = 1
	wavFormatExtensible = 0xFFFE
)

// wavHeader is what SplitWAV needs of a WAV file: its sample format and
// where its samples are.
type wavHeader struct {
	format     uint16 // wavFormatPCM, or the sub-format's tag if extensible
	channels   uint16
	rate       uint32
	bits       uint16
	blockAlign uint16
	dataOff    int64 // offset of the first sample
	dataLen    int64 // bytes of samples, a whole number of blocks
}

var errNotWAV = errors.New("not a RIFF/WAVE file")

// readWAVHeader walks the RIFF chunks of a WAV file up to "data", skipping
// any others (ffmpeg writes a LIST chunk first). A data size of 0 or
// 0xFFFFFFFF, which ffmpeg leaves when it cannot seek back to fill it in,
// or one beyond the file's end, means the samples run to the end of the file.
func readWAVHeader(f *os.File) (wavHeader, error) {
	st, err := f.Stat()
	if err != nil {
		return wavHeader{}, err
	}
	size := st.Size()
	var riff [12]byte
	if _, err := f.ReadAt(riff[:], 0); err != nil {
		return wavHeader{}, fmt.Errorf("%w: %w", errNotWAV, err)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		if string(riff[0:4]) == "RF64" {
			return wavHeader{}, fmt.Errorf("RF64 WAV files are not supported")
		}
		return wavHeader{}, errNotWAV
	}
	var h wavHeader
	haveFmt := false
	for off := int64(12); ; {
		var ch [8]byte
		if _, err := f.ReadAt(ch[:], off); err != nil {
			return wavHeader{}, fmt.Errorf("no data chunk in the WAV file: %w", err)
		}
		id, n := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		off += 8
		switch id {
		case "fmt ":
			if n < 16 || n > 1<<16 {
				return wavHeader{}, fmt.Errorf("WAV fmt chunk of %d bytes", n)
			}
			b := make([]byte, n)
			if _, err := f.ReadAt(b, off); err != nil {
				return wavHeader{}, fmt.Errorf("read WAV fmt chunk: %w", err)
			}
			h.format = binary.LittleEndian.Uint16(b[0:2])
			h.channels = binary.LittleEndian.Uint16(b[2:4])
			h.rate = binary.LittleEndian.Uint32(b[4:8])
			h.blockAlign = binary.LittleEndian.Uint16(b[12:14])
			h.bits = binary.LittleEndian.Uint16(b[14:16])
			if h.format == wavFormatExtensible && n >= 26 {
				// The sub-format GUID starts with the format tag.
				h.format = binary.LittleEndian.Uint16(b[24:26])
			}
			if h.rate == 0 || h.blockAlign == 0 {
				return wavHeader{}, fmt.Errorf("WAV fmt chunk has a sample rate of %d and block size of %d", h.rate, h.blockAlign)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return wavHeader{}, fmt.Errorf("WAV data chunk before its fmt chunk")
			}
			if n == 0 || n == math.MaxUint32 || n > size-off {
				n = max(size-off, 0)
			}
			h.dataOff = off
			h.dataLen = n - n%int64(h.blockAlign)
			return h, nil
		}
		off += n + n%2 // chunks are padded to an even size
	}
}

// checkS16Mono refuses any format other than 16-bit mono PCM.
func (h wavHeader) checkS16Mono() error {
	if h.format != wavFormatPCM || h.bits != 16 || h.channels != 1 || h.blockAlign != 2 {
		return fmt.Errorf("want 16-bit mono PCM WAV, got format %#x, %d bits, %d channels", h.format, h.bits, h.channels)
	}
	return nil
}

// writeWAV writes n bytes of 16-bit mono PCM from r into a new WAV file.
func writeWAV(path string, rate uint32, r io.Reader, n int64) error {
	if n > math.MaxUint32-36 {
		return fmt.Errorf("chunk %s too large for a WAV file", path)
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+n))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], wavFormatPCM)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], rate)
	binary.LittleEndian.PutUint32(h[28:], rate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(n))
	_, err = out.Write(h[:])
	if err == nil {
		var copied int64
		copied, err = io.Copy(out, r)
		if err == nil && copied != n {
			err = fmt.Errorf("copied %d of %d bytes", copied, n)
		}
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// runLines runs bin like run but returns only the lines of its standard
// error containing key: silencedetect logs there, and a long file logs more
// than run keeps.
func (f *FFmpeg) runLines(ctx context.Context, timeout time.Duration, bin string, args []string, key string) ([]byte, error) {
	var head bytes.Buffer
	lines := &lineFilter{head: limited{buf: &head, max: 16 << 10}, key: []byte(key)}
	if _, err := f.runTo(ctx, timeout, bin, args, lines, &head); err != nil {
		return nil, err
	}
	lines.flush()
	return lines.out.Bytes(), nil
}

// lineFilter keeps the first bytes written (for error messages) and every
// complete line containing key. A line longer than maxLine is not one of
// ours and is dropped.
type lineFilter struct {
	head    limited
	key     []byte
	out     bytes.Buffer
	partial []byte
	long    bool // the current line outgrew maxLine
}

const maxLine = 4 << 10

func (l *lineFilter) Write(p []byte) (int, error) {
	_, _ = l.head.Write(p)
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexAny(rest, "\r\n")
		if i < 0 {
			l.add(rest)
			break
		}
		l.add(rest[:i])
		l.flush()
		rest = rest[i+1:]
	}
	return len(p), nil
}

func (l *lineFilter) add(b []byte) {
	if l.long || len(l.partial)+len(b) > maxLine {
		l.long, l.partial = true, l.partial[:0]
		return
	}
	l.partial = append(l.partial, b...)
}

// flush ends the current line.
func (l *lineFilter) flush() {
	if !l.long && bytes.Contains(l.partial, l.key) {
		l.out.Write(l.partial)
		l.out.WriteByte('\n')
	}
	l.partial, l.long = l.partial[:0], false
}
