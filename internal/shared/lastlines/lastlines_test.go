package lastlines

import "testing"

func TestOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"only\n\n\n", 1, "only"},
		{"", 3, ""},
	} {
		if got := Of(c.in, c.n); got != c.want {
			t.Errorf("Of(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
