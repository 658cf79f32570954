// Package source gets media and existing captions from where a job points:
// yt-dlp for site and direct media URLs (resolve, download the best audio,
// fetch human-made subtitle tracks) and plain HTTP for uploaded files behind
// presigned URLs. Every failure is classified for the control plane with the
// failure package.
package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/internal/subtitle"
)

// Config configures the yt-dlp runner. Zero values take the defaults noted.
type Config struct {
	Binary      string // yt-dlp executable; default "yt-dlp" from PATH
	CookiesFile string // Netscape cookies file for sites that need a login
	Proxy       string // proxy URL for every request yt-dlp makes
	// GuardProxy is the agent's egress-guarding proxy (see netguard.Proxy);
	// downloads go through it unless the run allows private sources or an
	// operator Proxy is set (that proxy then enforces egress policy).
	GuardProxy      string
	ResolveTimeout  time.Duration // default 2m
	DownloadTimeout time.Duration // default 1h
	SocketTimeout   time.Duration // per-socket idle timeout; default 30s
	Retries         int           // yt-dlp retries for transient HTTP/extractor errors; default 3
	Logger          *slog.Logger  // default: discard
}

// Limits bound what a download may be.
type Limits struct {
	MaxDuration float64 // seconds; 0: no limit
	MaxBytes    int64   // 0: no limit
}

// Info is what Resolve learns about a source without downloading it.
type Info struct {
	ID         string
	Title      string
	Duration   float64 // seconds; 0 when unknown (direct media URLs)
	Extractor  string  // yt-dlp extractor key, e.g. "Youtube", "Generic"
	YouTube    bool
	Language   string // the video's spoken language, if the site says
	WebpageURL string
	IsLive     bool
	// Subtitles are human-made tracks; AutoCaptions are machine-made ones,
	// kept for information only (they are never used as captions).
	Subtitles    map[string][]Track
	AutoCaptions map[string][]Track
}

// Track is one available subtitle rendition.
type Track struct {
	Ext  string `json:"ext"`
	URL  string `json:"url"`
	Name string `json:"name"`
}

// SubtitleLanguage returns the key of the human-made subtitle track that best
// matches lang ("en" matches "en", then "en-US", "en-GB", ...), if any.
func (i Info) SubtitleLanguage(lang string) (string, bool) {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if lang == "" {
		return "", false
	}
	if _, ok := i.Subtitles[lang]; ok {
		return lang, true
	}
	best := ""
	for k := range i.Subtitles {
		lk := strings.ToLower(k)
		if lk == lang || strings.HasPrefix(lk, lang+"-") || strings.HasPrefix(lk, lang+"_") {
			if best == "" || k < best { // deterministic choice among regional variants
				best = k
			}
		}
	}
	return best, best != ""
}

// CheckLimits fails permanently when what is known about the source already
// exceeds the limits.
func CheckLimits(info Info, lim Limits) error {
	if lim.MaxDuration > 0 && info.Duration > lim.MaxDuration {
		return failure.Permanent(api.CodeTooLong, "media is %s long; the limit is %s",
			seconds(info.Duration), seconds(lim.MaxDuration))
	}
	return nil
}

func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

// YTDLP runs yt-dlp. It never goes through a shell, always ignores yt-dlp
// config files, and puts the URL after "--" so it can never be read as an
// option.
type YTDLP struct {
	cfg   Config
	rules []rule
	log   *slog.Logger
}

// NewYTDLP returns a runner with cfg's defaults filled in.
func NewYTDLP(cfg Config) *YTDLP {
	if cfg.Binary == "" {
		cfg.Binary = "yt-dlp"
	}
	if cfg.ResolveTimeout <= 0 {
		cfg.ResolveTimeout = 2 * time.Minute
	}
	if cfg.DownloadTimeout <= 0 {
		cfg.DownloadTimeout = time.Hour
	}
	if cfg.SocketTimeout <= 0 {
		cfg.SocketTimeout = 30 * time.Second
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &YTDLP{cfg: cfg, rules: ytdlpRules(), log: log}
}

// Version returns yt-dlp's version string; it doubles as an availability check.
func (y *YTDLP) Version(ctx context.Context) (string, error) {
	out, _, err := y.run(ctx, 30*time.Second, "", []string{"--version"}, "")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// base are the options every run gets: no user or system config files (they
// could change output names or formats), no cache, and the agent's network
// settings.
func (y *YTDLP) base(ctx context.Context) []string {
	args := []string{
		"--ignore-config", "--no-cache-dir", "--no-playlist", "--no-color",
		"--socket-timeout", strconv.Itoa(int(y.cfg.SocketTimeout / time.Second)),
		"--retries", strconv.Itoa(y.cfg.Retries),
		"--extractor-retries", strconv.Itoa(y.cfg.Retries),
		"--retry-sleep", "http:exp=1:20",
		"--retry-sleep", "extractor:exp=1:20",
	}
	if y.cfg.CookiesFile != "" {
		args = append(args, "--cookies", y.cfg.CookiesFile)
	}
	switch {
	case y.cfg.Proxy != "":
		args = append(args, "--proxy", y.cfg.Proxy)
	case y.cfg.GuardProxy != "" && !privateAllowed(ctx):
		args = append(args, "--proxy", y.cfg.GuardProxy)
	}
	return args
}

type privateKey struct{}

// AllowPrivate marks a run whose sources may be loopback or private (dev
// mode, or a control plane configured to allow them): no egress guard.
func AllowPrivate(ctx context.Context) context.Context {
	return context.WithValue(ctx, privateKey{}, true)
}

func privateAllowed(ctx context.Context) bool {
	v, _ := ctx.Value(privateKey{}).(bool)
	return v
}

// rawInfo is the subset of yt-dlp's info JSON that we read.
type rawInfo struct {
	Type              string             `json:"_type"`
	ID                string             `json:"id"`
	Title             string             `json:"title"`
	Duration          *float64           `json:"duration"`
	Extractor         string             `json:"extractor"`
	ExtractorKey      string             `json:"extractor_key"`
	Language          *string            `json:"language"`
	WebpageURL        string             `json:"webpage_url"`
	IsLive            *bool              `json:"is_live"`
	LiveStatus        *string            `json:"live_status"`
	Subtitles         map[string][]Track `json:"subtitles"`
	AutomaticCaptions map[string][]Track `json:"automatic_captions"`
}

// ParseInfo reads yt-dlp's --dump-single-json output.
func ParseInfo(data []byte) (Info, error) {
	var r rawInfo
	if err := json.Unmarshal(data, &r); err != nil {
		return Info{}, fmt.Errorf("parse yt-dlp info: %w", err)
	}
	if r.Type == "playlist" || r.Type == "multi_video" {
		return Info{}, failure.Permanent(api.CodeUnsupportedURL, "the URL is a playlist; submit one video at a time")
	}
	info := Info{
		ID:           r.ID,
		Title:        r.Title,
		Extractor:    r.ExtractorKey,
		WebpageURL:   r.WebpageURL,
		Subtitles:    r.Subtitles,
		AutoCaptions: r.AutomaticCaptions,
	}
	if info.Extractor == "" {
		info.Extractor = r.Extractor
	}
	info.YouTube = strings.HasPrefix(strings.ToLower(info.Extractor), "youtube")
	if r.Duration != nil && *r.Duration > 0 {
		info.Duration = *r.Duration
	}
	if r.Language != nil {
		info.Language = *r.Language
	}
	info.IsLive = (r.IsLive != nil && *r.IsLive) ||
		(r.LiveStatus != nil && (*r.LiveStatus == "is_live" || *r.LiveStatus == "is_upcoming"))
	return info, nil
}

// Resolve asks yt-dlp what url is, without downloading media.
func (y *YTDLP) Resolve(ctx context.Context, url string) (Info, error) {
	out, _, err := y.run(ctx, y.cfg.ResolveTimeout, "", []string{"--dump-single-json", "--skip-download"}, url)
	if err != nil {
		return Info{}, err
	}
	info, err := ParseInfo(out)
	if err != nil {
		return Info{}, err
	}
	if info.IsLive {
		return Info{}, failure.Permanent(api.CodeUnsupportedURL, "live streams are not supported")
	}
	return info, nil
}

// Download fetches the best audio-only rendition of url (or the whole file for
// direct media) into dir and returns its path. lim.MaxBytes is enforced both
// by yt-dlp (from announced sizes) and on the result.
func (y *YTDLP) Download(ctx context.Context, url, dir string, lim Limits) (string, error) {
	args := []string{
		"-f", "bestaudio/best",
		"--no-part", "--no-mtime", "--no-progress", "--restrict-filenames",
		"--fragment-retries", strconv.Itoa(y.cfg.Retries),
		// Relative to cmd.Dir so that dir can never be read as a template.
		"-o", "media.%(ext)s",
		"--print", "after_move:filepath",
	}
	if lim.MaxBytes > 0 {
		args = append(args, "--max-filesize", strconv.FormatInt(lim.MaxBytes, 10))
	}
	out, _, err := y.run(ctx, y.cfg.DownloadTimeout, dir, args, url)
	if err != nil {
		return "", err
	}
	path := lastLine(string(out))
	if path == "" {
		// With --print, yt-dlp is quiet and a file skipped for --max-filesize
		// leaves no other trace than the missing file.
		if lim.MaxBytes > 0 {
			return "", failure.Permanent(api.CodeMediaTooLarge, "media is larger than %d bytes", lim.MaxBytes)
		}
		return "", failure.Transient(api.CodeDownloadFailed, "yt-dlp reported no downloaded file")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", failure.Transient(api.CodeDownloadFailed, "downloaded file: %w", err)
	}
	if lim.MaxBytes > 0 && st.Size() > lim.MaxBytes {
		_ = os.Remove(path)
		return "", failure.Permanent(api.CodeMediaTooLarge, "media is %d bytes; the limit is %d", st.Size(), lim.MaxBytes)
	}
	return path, nil
}

// ErrNoCaptions means the source has no human-made subtitle track in the
// requested language.
var ErrNoCaptions = errors.New("no human-made captions in that language")

// FetchCaptions downloads the human-made subtitle track lang of url as WebVTT
// (or SubRip, when a site offers no WebVTT) and converts it to a transcript.
// Automatic captions are never used: they are worse than our own recognition
// and carry no word confidences.
func (y *YTDLP) FetchCaptions(ctx context.Context, url, lang, dir string) (api.Transcript, error) {
	if !validLang(lang) {
		return api.Transcript{}, failure.Permanent(api.CodeInvalidRequest, "invalid caption language %q", lang)
	}
	args := []string{
		"--skip-download", "--write-subs", "--sub-langs", lang, "--sub-format", "vtt/srt",
		"-o", "captions.%(ext)s",
	}
	if _, _, err := y.run(ctx, y.cfg.ResolveTimeout, dir, args, url); err != nil {
		return api.Transcript{}, err
	}
	for _, format := range []struct {
		ext   string
		parse func(io.Reader) ([]subtitle.Cue, error)
	}{{"vtt", subtitle.ParseVTT}, {"srt", subtitle.ParseSRT}} {
		matches, err := filepath.Glob(filepath.Join(dir, "captions.*."+format.ext))
		if err != nil {
			return api.Transcript{}, fmt.Errorf("find captions: %w", err)
		}
		if len(matches) == 0 {
			continue
		}
		f, err := os.Open(matches[0])
		if err != nil {
			return api.Transcript{}, fmt.Errorf("open captions: %w", err)
		}
		defer f.Close()
		cues, err := format.parse(f)
		if err != nil {
			return api.Transcript{}, fmt.Errorf("%s captions: %w", format.ext, err)
		}
		return subtitle.Transcript(cues, lang), nil
	}
	return api.Transcript{}, fmt.Errorf("%s: %w", lang, ErrNoCaptions)
}

// validLang accepts BCP 47-like codes only. yt-dlp reads --sub-langs as a
// comma-separated list of regular expressions (and "all"), so anything else
// from a job could widen what is downloaded.
func validLang(lang string) bool {
	if lang == "" || len(lang) > 20 || strings.EqualFold(lang, "all") {
		return false
	}
	for i, part := range strings.Split(lang, "-") {
		if part == "" || (i == 0 && (len(part) < 2 || len(part) > 3)) {
			return false
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// run executes yt-dlp with the base options, args, "--" and url (when set),
// in dir (when set). A run that exits non-zero is classified from stderr.
func (y *YTDLP) run(ctx context.Context, timeout time.Duration, dir string, args []string, url string) ([]byte, string, error) {
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	full := args
	if url != "" {
		full = append(y.base(ctx), args...)
		full = append(full, "--", url)
	}
	cmd := exec.CommandContext(runCtx, y.cfg.Binary, full...)
	cmd.Dir = dir
	cmd.Stdin = nil
	killGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	var stdout bytes.Buffer
	stderr := &tail{max: 64 << 10}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr

	start := time.Now()
	err := cmd.Run()
	y.log.LogAttrs(ctx, slog.LevelDebug, "yt-dlp", slog.Any("args", args), slog.String("url", url),
		slog.Duration("took", time.Since(start)), slog.Any("err", err))
	if err == nil {
		return stdout.Bytes(), stderr.String(), nil
	}
	if stop := failure.Interrupted(ctx, runCtx, "yt-dlp", timeout, api.CodeDownloadFailed); stop != nil {
		return nil, stderr.String(), stop
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		// The binary is missing or not executable: the agent is broken, not the job.
		return nil, stderr.String(), failure.Transient(api.CodeDownloadFailed, "run yt-dlp: %w", err)
	}
	return nil, stderr.String(), classifyStderr(y.rules, stderr.String(), err)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// tail keeps the last max bytes written to it, so a chatty tool cannot grow
// memory without bound while its final error lines are kept.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.buf) }

var _ io.Writer = (*tail)(nil)
