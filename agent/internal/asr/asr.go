// Package asr runs speech recognition engines on 16 kHz mono WAV files and
// returns canonical transcripts: pocketsphinx (Debian's CPU recognizer with
// its en-us model), whisper.cpp's whisper-cli, and any OpenAI-compatible
// /v1/audio/transcriptions server. Each engine also reports whether it can
// run here and which models it has, for doctor and capability advertising.
package asr

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Engine names.
const (
	NamePocketsphinx = "pocketsphinx"
	NameWhisperCpp   = "whisper-cpp"
	NameOpenAI       = "openai"
)

// Options are the per-job recognition settings.
type Options struct {
	Language string // "auto", "" or a language code such as "en"
	Task     string // "transcribe" (default) or "translate" (to English)
	Model    string // engine-specific model name; "" for the engine default
	Prompt   string // initial prompt, where the engine supports one
	// Progress, when set, receives the fraction of the audio done (0..1).
	Progress func(done float64)
	// Position, when set, receives how far into a stream recognition has
	// got, in seconds: a stream's length may not be known yet.
	Position func(seconds float64)
}

// Engine turns a 16 kHz mono WAV file into a transcript.
type Engine interface {
	Name() string
	Transcribe(ctx context.Context, wavPath string, opts Options) (api.Transcript, error)
}

// Streamer is implemented by engines that can recognize audio while it is
// still being decoded: raw 16 kHz mono s16le PCM, read until EOF. The
// engine starts (loads its model) while the decoder starts, so neither
// waits for the other.
type Streamer interface {
	TranscribeStream(ctx context.Context, pcm io.Reader, opts Options) (api.Transcript, error)
}

// Validator is implemented by engines that can reject options before any
// media is fetched (a language or model they do not have), so a job that
// cannot succeed fails in seconds rather than after a long download.
type Validator interface {
	Validate(opts Options) error
}

// Checker is implemented by engines that can tell whether they are usable on
// this machine and what they offer.
type Checker interface {
	// Check returns nil when the engine can run (binary found, model present,
	// server reachable), else what is missing.
	Check(ctx context.Context) error
	// Capability names the engine and the models it can use.
	Capability() api.EngineCapability
}

// Capabilities returns the capabilities of the engines whose Check passes,
// sorted by name, and the reasons the others are unavailable.
func Capabilities(ctx context.Context, engines map[string]Engine) ([]api.EngineCapability, map[string]error) {
	var caps []api.EngineCapability
	problems := map[string]error{}
	for name, e := range engines {
		c, ok := e.(Checker)
		if !ok {
			caps = append(caps, api.EngineCapability{Name: e.Name()})
			continue
		}
		if err := c.Check(ctx); err != nil {
			problems[name] = err
			continue
		}
		caps = append(caps, c.Capability())
	}
	sort.Slice(caps, func(i, j int) bool { return caps[i].Name < caps[j].Name })
	return caps, problems
}

// isAuto reports whether lang asks for language detection.
func isAuto(lang string) bool {
	return lang == "" || strings.EqualFold(lang, "auto")
}

// baseLang returns the primary subtag of a language code: "en-US" → "en".
func baseLang(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	return lang
}

// wavDuration reads the length in seconds of a PCM WAV file from its header.
func wavDuration(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open wav: %w", err)
	}
	defer f.Close()
	var riff [12]byte
	if _, err := io.ReadFull(f, riff[:]); err != nil {
		return 0, fmt.Errorf("read wav header: %w", err)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return 0, errors.New("not a RIFF/WAVE file")
	}
	var byteRate uint32
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(f, hdr[:]); err != nil {
			return 0, fmt.Errorf("read wav chunk: %w", err)
		}
		id, size := string(hdr[0:4]), binary.LittleEndian.Uint32(hdr[4:8])
		switch id {
		case "fmt ":
			fmtChunk := make([]byte, size)
			if _, err := io.ReadFull(f, fmtChunk); err != nil {
				return 0, fmt.Errorf("read wav fmt: %w", err)
			}
			if len(fmtChunk) >= 12 {
				byteRate = binary.LittleEndian.Uint32(fmtChunk[8:12])
			}
			if size%2 == 1 {
				_, _ = f.Seek(1, io.SeekCurrent)
			}
		case "data":
			if byteRate == 0 {
				return 0, errors.New("wav data before fmt chunk")
			}
			// ffmpeg writing to a pipe leaves size as 0xFFFFFFFF; use the file size.
			if size == 0 || size == 0xFFFFFFFF {
				pos, _ := f.Seek(0, io.SeekCurrent)
				st, err := f.Stat()
				if err != nil {
					return 0, fmt.Errorf("stat wav: %w", err)
				}
				return float64(st.Size()-pos) / float64(byteRate), nil
			}
			return float64(size) / float64(byteRate), nil
		default:
			if _, err := f.Seek(int64(size)+int64(size%2), io.SeekCurrent); err != nil {
				return 0, fmt.Errorf("skip wav chunk: %w", err)
			}
		}
	}
}

// joinSegments fills a transcript's text from its segments.
func joinText(segs []api.Segment) string {
	parts := make([]string, 0, len(segs))
	for _, s := range segs {
		if t := strings.TrimSpace(s.Text); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, " ")
}

func clamp01(v float64) float64 {
	return max(0, min(1, v))
}
