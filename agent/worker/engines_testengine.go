//go:build ytcaption_testengine

package worker

import (
	"os"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/asr"
)

// testEngineDelayEnv sets how long the test engine takes per task.
const testEngineDelayEnv = "YTCAPTION_AGENT_TEST_ENGINE_DELAY"

// extraEngines adds the test-only engine ("--engine test") to binaries built
// with the ytcaption_testengine tag. Its delay comes from the environment
// (a Go duration, default 1s).
func extraEngines() map[string]asr.Engine {
	delay := time.Second
	if d, err := time.ParseDuration(os.Getenv(testEngineDelayEnv)); err == nil && d >= 0 {
		delay = d
	}
	return map[string]asr.Engine{asr.NameTest: asr.NewTestEngine(delay)}
}
