//go:build ytcaption_testengine

package asr

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// NameTest names the test-only engine. It is compiled only into binaries
// built with the ytcaption_testengine tag, never into the default build.
const NameTest = "test"

// testText is what the test engine always "hears".
const testText = "the quick brown fox jumps over the lazy dog"

// TestEngine returns a fixed transcript after a set delay. Fault-injection
// tests use it so that many tasks run through the real resolve, download
// and extract stages without paying for real recognition on every one.
type TestEngine struct {
	delay time.Duration
}

// NewTestEngine returns the test engine with the given per-task delay.
func NewTestEngine(delay time.Duration) *TestEngine { return &TestEngine{delay: delay} }

// Name implements Engine.
func (e *TestEngine) Name() string { return NameTest }

// Transcribe waits for the delay (reporting progress) and returns the fixed
// text spread evenly over the audio's duration.
func (e *TestEngine) Transcribe(ctx context.Context, wavPath string, opts Options) (api.Transcript, error) {
	dur, err := wavDuration(wavPath)
	if err != nil {
		return api.Transcript{}, fmt.Errorf("test engine: %w", err)
	}
	const steps = 10
	for i := range steps {
		t := time.NewTimer(e.delay / steps)
		select {
		case <-ctx.Done():
			t.Stop()
			return api.Transcript{}, fmt.Errorf("test engine: %w", ctx.Err())
		case <-t.C:
		}
		if opts.Progress != nil {
			opts.Progress(float64(i+1) / steps)
		}
	}
	words := strings.Fields(testText)
	step := dur / float64(len(words))
	seg := api.Segment{Start: 0, End: dur, Text: testText}
	for i, w := range words {
		seg.Words = append(seg.Words, api.Word{Word: w, Start: float64(i) * step, End: float64(i+1) * step, Confidence: 1})
	}
	lang := opts.Language
	if isAuto(lang) {
		lang = "en"
	}
	segs := []api.Segment{seg}
	return api.Transcript{Language: baseLang(lang), Duration: dur, Text: joinText(segs), Segments: segs,
		Engine: api.EngineInfo{Name: NameTest, Model: "fixed"}}, nil
}
