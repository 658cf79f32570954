package asr

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Debian's pocketsphinx-en-us package layout.
const (
	DefaultSphinxModelDir = "/usr/share/pocketsphinx/model/en-us"
	sphinxModelName       = "en-us"
)

// PocketsphinxConfig configures the pocketsphinx engine. Empty paths take
// Debian's en-us model from DefaultSphinxModelDir.
type PocketsphinxConfig struct {
	Binary  string        // default "pocketsphinx_continuous" from PATH
	HMM     string        // acoustic model directory; default <dir>/en-us
	LM      string        // language model; default <dir>/en-us.lm.bin
	Dict    string        // pronunciation dictionary; default <dir>/cmudict-en-us.dict
	Timeout time.Duration // default 2h
}

// Pocketsphinx runs pocketsphinx_continuous. It recognizes English only.
type Pocketsphinx struct {
	cfg PocketsphinxConfig
}

// NewPocketsphinx returns the engine with cfg's defaults filled in.
func NewPocketsphinx(cfg PocketsphinxConfig) *Pocketsphinx {
	if cfg.Binary == "" {
		cfg.Binary = "pocketsphinx_continuous"
	}
	if cfg.HMM == "" {
		cfg.HMM = filepath.Join(DefaultSphinxModelDir, "en-us")
	}
	if cfg.LM == "" {
		cfg.LM = filepath.Join(DefaultSphinxModelDir, "en-us.lm.bin")
	}
	if cfg.Dict == "" {
		cfg.Dict = filepath.Join(DefaultSphinxModelDir, "cmudict-en-us.dict")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Hour
	}
	return &Pocketsphinx{cfg: cfg}
}

// Name implements Engine.
func (p *Pocketsphinx) Name() string { return NamePocketsphinx }

// Capability implements Checker.
func (p *Pocketsphinx) Capability() api.EngineCapability {
	return api.EngineCapability{Name: NamePocketsphinx, Models: []string{sphinxModelName}}
}

// Check implements Checker: the binary and every model file must exist.
func (p *Pocketsphinx) Check(context.Context) error {
	if _, err := exec.LookPath(p.cfg.Binary); err != nil {
		return fmt.Errorf("pocketsphinx: %w", err)
	}
	for _, path := range []string{filepath.Join(p.cfg.HMM, "mdef"), p.cfg.LM, p.cfg.Dict} {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("pocketsphinx model: %w", err)
		}
	}
	return nil
}

// Args returns the command line for input, without the binary: a WAV file,
// or raw 16 kHz mono s16le PCM when its name does not end in ".wav" (as
// /dev/stdin). The model paths are explicit so that a different default
// compiled into the binary cannot change results.
func (p *Pocketsphinx) Args(input string) []string {
	return []string{
		"-hmm", p.cfg.HMM,
		"-lm", p.cfg.LM,
		"-dict", p.cfg.Dict,
		"-samprate", "16000",
		"-infile", input,
		"-time", "yes",
		// Logging goes to stderr, where the ERROR lines are kept for messages.
	}
}

// Validate implements Validator: the model is English only.
func (p *Pocketsphinx) Validate(opts Options) error {
	if !isAuto(opts.Language) && baseLang(opts.Language) != "en" {
		return failure.Permanent(api.CodeUnsupportedLang, "pocketsphinx recognizes English only, not %q", opts.Language)
	}
	return nil
}

// Transcribe implements Engine.
func (p *Pocketsphinx) Transcribe(ctx context.Context, wavPath string, opts Options) (api.Transcript, error) {
	if err := p.Validate(opts); err != nil {
		return api.Transcript{}, err
	}
	duration, err := wavDuration(wavPath)
	if err != nil {
		return api.Transcript{}, failure.Permanent(api.CodeUndecodable, "pocketsphinx input: %w", err)
	}
	segs, err := p.recognize(ctx, wavPath, nil, func(end float64) {
		if opts.Progress != nil && duration > 0 {
			opts.Progress(clamp01(end / duration))
		}
	})
	if err != nil {
		return api.Transcript{}, err
	}
	return sphinxTranscript(segs, duration), nil
}

// TranscribeStream implements Streamer: the recognizer loads its model
// while the first audio is still being decoded, and reads the PCM from its
// standard input as it comes.
func (p *Pocketsphinx) TranscribeStream(ctx context.Context, pcm io.Reader, opts Options) (api.Transcript, error) {
	if err := p.Validate(opts); err != nil {
		return api.Transcript{}, err
	}
	in := &countingReader{r: pcm}
	segs, err := p.recognize(ctx, "/dev/stdin", in, func(end float64) {
		if opts.Position != nil {
			opts.Position(end)
		}
	})
	if err != nil {
		return api.Transcript{}, err
	}
	return sphinxTranscript(segs, float64(in.n)/(2*16000)), nil
}

// recognize runs pocketsphinx_continuous on input (fed from stdin when not
// nil) and parses its output; onUtterance gets each utterance's end.
func (p *Pocketsphinx) recognize(ctx context.Context, input string, stdin io.Reader, onUtterance func(end float64)) ([]api.Segment, error) {
	runCtx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, p.cfg.Binary, p.Args(input)...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = stdin
	errs := &errorLines{max: 20}
	cmd.Stderr = errs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, failure.Transient(api.CodeTranscribeFailed, "start pocketsphinx: %w", err)
	}
	segs, perr := ParseSphinx(stdout, onUtterance)
	if perr != nil {
		_, _ = io.Copy(io.Discard, stdout) // let the process finish writing
	}
	werr := cmd.Wait()
	if stop := failure.Interrupted(ctx, runCtx, "pocketsphinx", p.cfg.Timeout, api.CodeTranscribeFailed); stop != nil {
		return nil, stop
	}
	switch {
	case werr != nil:
		return nil, failure.Transient(api.CodeTranscribeFailed, "pocketsphinx: %s: %w", errs.String(), werr)
	case perr != nil:
		return nil, failure.Transient(api.CodeTranscribeFailed, "pocketsphinx output: %w", perr)
	}
	return segs, nil
}

// sphinxTranscript makes the transcript of segs over duration seconds of
// audio, with no word ending past the audio.
func sphinxTranscript(segs []api.Segment, duration float64) api.Transcript {
	for i := range segs {
		segs[i].End = min(segs[i].End, max(duration, segs[i].Start))
		for j := range segs[i].Words {
			w := &segs[i].Words[j]
			w.End = min(w.End, max(duration, w.Start))
		}
	}
	return api.Transcript{
		Language: "en",
		Duration: duration,
		Text:     joinText(segs),
		Segments: segs,
		Engine:   api.EngineInfo{Name: NamePocketsphinx, Model: sphinxModelName, Origin: "asr"},
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// altPron matches the alternate-pronunciation suffix of dictionary words,
// as in "hello(2)".
var altPron = regexp.MustCompile(`\(\d+\)$`)

// ParseSphinx reads pocketsphinx_continuous "-time yes" output: for each
// utterance, a line with the hypothesis, then one line per word "word start
// end confidence". Silence and filler words are dropped; each utterance with
// words becomes a segment. onUtterance, when set, gets each utterance's end.
func ParseSphinx(r io.Reader, onUtterance func(end float64)) ([]api.Segment, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	segs := []api.Segment{}
	var cur *api.Segment
	flush := func() {
		if cur != nil && len(cur.Words) > 0 {
			words := make([]string, len(cur.Words))
			for i, w := range cur.Words {
				words[i] = w.Word
			}
			cur.Text = strings.Join(words, " ")
			cur.Start = cur.Words[0].Start
			cur.End = cur.Words[len(cur.Words)-1].End
			segs = append(segs, *cur)
			if onUtterance != nil {
				onUtterance(cur.End)
			}
		}
		cur = nil
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		w, ok := parseWordLine(f)
		if !ok {
			// A hypothesis line opens the next utterance.
			flush()
			cur = &api.Segment{}
			continue
		}
		if w.Word == "<s>" {
			if cur != nil && len(cur.Words) > 0 {
				flush()
			}
			if cur == nil {
				cur = &api.Segment{}
			}
			continue
		}
		if isFiller(w.Word) {
			continue
		}
		if cur == nil {
			cur = &api.Segment{}
		}
		w.Word = altPron.ReplaceAllString(w.Word, "")
		if n := len(cur.Words); n > 0 && w.Start < cur.Words[n-1].End {
			w.Start = cur.Words[n-1].End // keep timings monotonic
		}
		w.End = max(w.End, w.Start)
		cur.Words = append(cur.Words, w)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read pocketsphinx output: %w", err)
	}
	flush()
	return segs, nil
}

// parseWordLine parses "word start end confidence".
func parseWordLine(f []string) (api.Word, bool) {
	if len(f) != 4 {
		return api.Word{}, false
	}
	var nums [3]float64
	for i := range nums {
		v, err := strconv.ParseFloat(f[i+1], 64)
		if err != nil {
			return api.Word{}, false
		}
		nums[i] = v
	}
	// pocketsphinx prints posteriors that can exceed 1 by rounding.
	return api.Word{Word: f[0], Start: nums[0], End: nums[1], Confidence: clamp01(nums[2])}, true
}

// isFiller reports silence and noise tokens: <sil>, </s>, [NOISE], ++UH++.
func isFiller(w string) bool {
	return strings.HasPrefix(w, "<") || strings.HasPrefix(w, "[") || strings.HasPrefix(w, "++")
}

// errorLines keeps the ERROR/FATAL lines of pocketsphinx's log.
type errorLines struct {
	max   int
	lines []string
	part  []byte
}

func (e *errorLines) Write(p []byte) (int, error) {
	e.part = append(e.part, p...)
	for {
		i := bytes.IndexByte(e.part, '\n')
		if i < 0 {
			break
		}
		line := string(e.part[:i])
		e.part = e.part[i+1:]
		if (strings.Contains(line, "ERROR") || strings.Contains(line, "FATAL")) && len(e.lines) < e.max {
			e.lines = append(e.lines, strings.TrimSpace(line))
		}
	}
	if len(e.part) > 64<<10 {
		e.part = e.part[:0]
	}
	return len(p), nil
}

func (e *errorLines) String() string {
	if len(e.lines) == 0 {
		return "exited with an error"
	}
	return strings.Join(e.lines, "; ")
}
