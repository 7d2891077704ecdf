package machine

import (
	"strings"
	"testing"
)

func TestCPUModelNamesAProcessor(t *testing.T) {
	t.Parallel()
	got := CPUModel()
	if got == "" || strings.Contains(got, "\n") {
		t.Fatalf("CPUModel() = %q, want one non-empty line", got)
	}
}
