package deploy

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	engineBin.Cleanup()
	os.Exit(code)
}
