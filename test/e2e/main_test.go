package e2e_test

import (
	"os"
	"testing"

	"github.com/ytcaption/ytcaption/test/testenv"
)

// binEnv names the directory holding ytcaption and ytcaption-agent (see
// testenv.RunWithBinaries).
const binEnv = testenv.BinEnv

func TestMain(m *testing.M) { os.Exit(testenv.RunWithBinaries(m, "e2e")) }
