package e2e_test

import (
	"os"
	"testing"

	"github.com/ytcaption/ytcaption/test/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunWithBinaries(m, "e2e")) }
