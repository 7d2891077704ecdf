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

func TestLoadAverageIsThreeNumbers(t *testing.T) {
	t.Parallel()
	f := strings.Fields(LoadAverage())
	if len(f) != 3 {
		t.Fatalf("LoadAverage() = %q, want the 1, 5 and 15-minute averages", LoadAverage())
	}
}
