//go:build !ytcaption_testengine

package worker

import "github.com/ytcaption/ytcaption/agent/internal/asr"

// extraEngines adds nothing to a default build; binaries built with the
// ytcaption_testengine tag add the test-only engine here.
func extraEngines() map[string]asr.Engine { return nil }
