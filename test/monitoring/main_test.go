package monitoring_test

import (
	"os"
	"testing"

	"github.com/ytcaption/ytcaption/test/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunWithBinaries(m, "monitoring")) }
