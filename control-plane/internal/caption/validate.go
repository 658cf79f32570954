package caption

import (
	"errors"
	"fmt"
	"math"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// MaxTime is the latest time, in seconds, a transcript may hold: just under
// 100 hours, so every timestamp fits the two-digit hour field of SRT and VTT.
const MaxTime = 100*3600 - 1

// ErrInvalidTranscript is wrapped by every error Validate returns.
var ErrInvalidTranscript = errors.New("invalid transcript")

// Validate checks that a transcript can be rendered: every time is finite and
// within [0, MaxTime], every span ends no earlier than it starts, segments are
// ordered by start, and so are the words within a segment. Overlaps between
// neighbours are allowed (recognizers produce them); rendering resolves them.
func Validate(t api.Transcript) error {
	if err := checkTime("duration", t.Duration); err != nil {
		return err
	}
	prev := 0.0
	for i, s := range t.Segments {
		where := fmt.Sprintf("segment %d", i)
		if err := checkSpan(where, s.Start, s.End); err != nil {
			return err
		}
		if s.Start < prev {
			return fmt.Errorf("%w: %s starts at %gs, before the previous segment (%gs)", ErrInvalidTranscript, where, s.Start, prev)
		}
		prev = s.Start
		wprev := 0.0
		for j, w := range s.Words {
			wwhere := fmt.Sprintf("%s word %d", where, j)
			if err := checkSpan(wwhere, w.Start, w.End); err != nil {
				return err
			}
			if w.Start < wprev {
				return fmt.Errorf("%w: %s starts at %gs, before the previous word (%gs)", ErrInvalidTranscript, wwhere, w.Start, wprev)
			}
			wprev = w.Start
			if math.IsNaN(w.Confidence) || math.IsInf(w.Confidence, 0) {
				return fmt.Errorf("%w: %s confidence is not a finite number", ErrInvalidTranscript, wwhere)
			}
		}
	}
	return nil
}

func checkSpan(where string, start, end float64) error {
	if err := checkTime(where+" start", start); err != nil {
		return err
	}
	if err := checkTime(where+" end", end); err != nil {
		return err
	}
	if end < start {
		return fmt.Errorf("%w: %s ends (%gs) before it starts (%gs)", ErrInvalidTranscript, where, end, start)
	}
	return nil
}

func checkTime(what string, v float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("%w: %s is not a finite number", ErrInvalidTranscript, what)
	case v < 0:
		return fmt.Errorf("%w: %s is negative (%gs)", ErrInvalidTranscript, what, v)
	case v > MaxTime:
		return fmt.Errorf("%w: %s is beyond %d seconds (%gs)", ErrInvalidTranscript, what, MaxTime, v)
	}
	return nil
}
