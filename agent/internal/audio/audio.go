// Package audio inspects media with ffprobe and turns it into the one format
// every speech engine here reads: 16 kHz mono signed 16-bit PCM WAV, made by
// ffmpeg. Failures are classified: media without an audio stream is no_audio,
// media ffmpeg cannot read is undecodable_media, both permanent.
package audio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// SampleRate is the sample rate of extracted audio, the one speech models use.
const SampleRate = 16000

// Config configures the ffmpeg tools. Zero values take the defaults noted.
type Config struct {
	FFmpeg         string        // default "ffmpeg" from PATH
	FFprobe        string        // default "ffprobe" from PATH
	ProbeTimeout   time.Duration // default 1m
	ExtractTimeout time.Duration // default 1h
}

// FFmpeg probes and converts media files.
type FFmpeg struct {
	cfg Config
}

// New returns an FFmpeg with cfg's defaults filled in.
func New(cfg Config) *FFmpeg {
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.FFprobe == "" {
		cfg.FFprobe = "ffprobe"
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = time.Minute
	}
	if cfg.ExtractTimeout <= 0 {
		cfg.ExtractTimeout = time.Hour
	}
	return &FFmpeg{cfg: cfg}
}

// Probe describes a media file.
type Probe struct {
	Duration   float64 // seconds; 0 when the container does not say
	HasAudio   bool
	HasVideo   bool
	Format     string // container, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
	AudioCodec string // first audio stream's codec
	SampleRate int    // first audio stream's sample rate
	Channels   int    // first audio stream's channels
	Size       int64  // bytes
}

type probeJSON struct {
	Streams []struct {
		CodecType  string `json:"codec_type"`
		CodecName  string `json:"codec_name"`
		SampleRate string `json:"sample_rate"`
		Channels   int    `json:"channels"`
		Duration   string `json:"duration"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		Size       string `json:"size"`
	} `json:"format"`
}

// ParseProbe reads ffprobe's "-print_format json -show_format -show_streams"
// output.
func ParseProbe(data []byte) (Probe, error) {
	var pj probeJSON
	if err := json.Unmarshal(data, &pj); err != nil {
		return Probe{}, fmt.Errorf("parse ffprobe output: %w", err)
	}
	p := Probe{Format: pj.Format.FormatName}
	p.Duration, _ = strconv.ParseFloat(pj.Format.Duration, 64)
	p.Size, _ = strconv.ParseInt(pj.Format.Size, 10, 64)
	for _, s := range pj.Streams {
		switch s.CodecType {
		case "audio":
			if !p.HasAudio {
				p.HasAudio = true
				p.AudioCodec = s.CodecName
				p.SampleRate, _ = strconv.Atoi(s.SampleRate)
				p.Channels = s.Channels
			}
			if d, err := strconv.ParseFloat(s.Duration, 64); err == nil && d > p.Duration {
				p.Duration = d
			}
		case "video":
			p.HasVideo = true
		}
	}
	return p, nil
}

// Probe runs ffprobe on path. Input ffprobe cannot read is undecodable_media.
func (f *FFmpeg) Probe(ctx context.Context, path string) (Probe, error) {
	args := []string{"-v", "error", "-protocol_whitelist", "file,pipe",
		"-print_format", "json", "-show_format", "-show_streams", "-i", fileURL(path)}
	out, err := f.run(ctx, f.cfg.ProbeTimeout, f.cfg.FFprobe, args)
	if err != nil {
		return Probe{}, err
	}
	p, err := ParseProbe(out)
	if err != nil {
		return Probe{}, failure.Permanent(api.CodeUndecodable, "%w", err)
	}
	if p.Format == "" && len(p.Streams()) == 0 {
		return Probe{}, failure.Permanent(api.CodeUndecodable, "ffprobe found no media in the file")
	}
	return p, nil
}

// Streams lists the kinds of streams found, for messages.
func (p Probe) Streams() []string {
	var kinds []string
	if p.HasAudio {
		kinds = append(kinds, "audio")
	}
	if p.HasVideo {
		kinds = append(kinds, "video")
	}
	return kinds
}

// Extract converts the first audio stream of in to a 16 kHz mono s16le WAV
// at out. Only local files are read (no network or device protocols), so a
// crafted playlist inside the media cannot make ffmpeg fetch anything.
func (f *FFmpeg) Extract(ctx context.Context, in, out string) error {
	args := []string{"-nostdin", "-y", "-v", "error",
		"-protocol_whitelist", "file,pipe",
		"-i", fileURL(in),
		"-vn", "-sn", "-dn", "-map", "0:a:0",
		"-ac", "1", "-ar", strconv.Itoa(SampleRate), "-c:a", "pcm_s16le",
		// No metadata chunk: the header is the plain 44 bytes pocketsphinx
		// skips, so none of it is read as samples.
		"-bitexact",
		"-f", "wav", fileURL(out)}
	if _, err := f.run(ctx, f.cfg.ExtractTimeout, f.cfg.FFmpeg, args); err != nil {
		_ = os.Remove(out)
		return err
	}
	return nil
}

// PlaybackBitrate is the Opus bitrate of playback copies: speech stays
// clear, and an hour is about 14 MB.
const PlaybackBitrate = "32k"

// PlaybackEffort is libopus's compression level (0–10, default 10) for
// playback copies.
const PlaybackEffort = "5"

// EncodePlayback writes the first audio stream of in as mono Ogg Opus at
// out: a small copy every browser plays, for the console's player.
func (f *FFmpeg) EncodePlayback(ctx context.Context, in, out string) error {
	args := []string{"-nostdin", "-y", "-v", "error",
		"-protocol_whitelist", "file,pipe",
		"-i", fileURL(in),
		"-vn", "-sn", "-dn", "-map", "0:a:0",
		"-ac", "1", "-c:a", "libopus", "-b:a", PlaybackBitrate, "-application", "voip",
		// Half the encoder's default effort about halves its time (a prepare
		// task waits for the copy before its chunks are published): for ten
		// minutes of speech 7.3 s became 3.9 s, the file 0.7 % smaller.
		"-compression_level", PlaybackEffort,
		"-f", "ogg", fileURL(out)}
	if _, err := f.run(ctx, f.cfg.ExtractTimeout, f.cfg.FFmpeg, args); err != nil {
		_ = os.Remove(out)
		return err
	}
	return nil
}

// Version returns the first line of "ffmpeg -version"; it doubles as an
// availability check.
func (f *FFmpeg) Version(ctx context.Context) (string, error) {
	out, err := f.run(ctx, 30*time.Second, f.cfg.FFmpeg, []string{"-hide_banner", "-version"})
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}

// fileURL makes path unambiguous to ffmpeg: "file:" stops a name with a
// colon from being read as a protocol and a leading dash as an option.
func fileURL(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return "file:" + path
}

func (f *FFmpeg) run(ctx context.Context, timeout time.Duration, bin string, args []string) ([]byte, error) {
	var stderr bytes.Buffer
	return f.runTo(ctx, timeout, bin, args, &limited{buf: &stderr, max: 16 << 10}, &stderr)
}

// runTo runs bin with its standard error written to errw; head holds what
// of it explains a failure.
func (f *FFmpeg) runTo(ctx context.Context, timeout time.Duration, bin string, args []string, errw io.Writer, head *bytes.Buffer) ([]byte, error) {
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = errw
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	name := filepath.Base(bin)
	if stop := failure.Interrupted(ctx, runCtx, name, timeout, api.CodeUndecodable); stop != nil {
		return nil, stop
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return nil, failure.Transient(api.CodeInternal, "run %s: %w", name, err)
	}
	return nil, classify(name, head.String(), err)
}

// classify maps ffmpeg/ffprobe error output to a failure.
func classify(name, stderr string, cause error) error {
	msg := strings.TrimSpace(stderr)
	if i := strings.LastIndex(msg, "\n"); i >= 0 && len(msg) > 300 {
		msg = strings.TrimSpace(msg[i+1:])
	}
	low := strings.ToLower(stderr)
	switch {
	case strings.Contains(low, "does not contain any stream"),
		strings.Contains(low, "matches no streams"),
		strings.Contains(low, "output file #0 does not contain"):
		return failure.Permanent(api.CodeNoAudio, "the media has no audio stream: %w", cause)
	case strings.Contains(low, "invalid data found"),
		strings.Contains(low, "moov atom not found"),
		strings.Contains(low, "could not find codec parameters"),
		strings.Contains(low, "unknown format"),
		strings.Contains(low, "decoder") && strings.Contains(low, "not found"),
		strings.Contains(low, "error while decoding"),
		strings.Contains(low, "end of file"):
		return failure.Permanent(api.CodeUndecodable, "%s cannot decode the media: %s: %w", name, msg, cause)
	case strings.Contains(low, "no space left"), strings.Contains(low, "cannot allocate"):
		return failure.Transient(api.CodeInternal, "%s: %s: %w", name, msg, cause)
	}
	return failure.Permanent(api.CodeUndecodable, "%s: %s: %w", name, msg, cause)
}

// limited keeps the first max bytes written; ffmpeg prints the cause first.
type limited struct {
	buf *bytes.Buffer
	max int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		if len(p) > room {
			l.buf.Write(p[:room])
		} else {
			l.buf.Write(p)
		}
	}
	return len(p), nil
}
