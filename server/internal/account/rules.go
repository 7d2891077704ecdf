package account

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/groundwork-dev/groundwork/server/internal/invalid"
)

// checkName records what is wrong with an account name: the contract's
// rules (1 to MaxNameLength characters, not only whitespace) and two that
// keep names printable and storable (valid UTF-8, no control characters;
// PostgreSQL rejects NUL in text).
func checkName(vs *invalid.Violations, name string) {
	const field = "name"
	switch {
	case name == "":
		vs.Add(field, "must not be empty")
	case !utf8.ValidString(name):
		vs.Add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameLength:
		vs.Add(field, fmt.Sprintf("must be at most %d characters, got %d", MaxNameLength, utf8.RuneCountInString(name)))
	case strings.TrimSpace(name) == "":
		vs.Add(field, "must not be only whitespace")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		vs.Add(field, "must not contain control characters")
	}
}

// checkID records what is wrong with an account ID.
func checkID(vs *invalid.Violations, id string) {
	const field = "id"
	switch {
	case id == "":
		vs.Add(field, "must not be empty")
	case !ValidID(id):
		vs.Add(field, "must be a UUID such as 9b2d6a8e-3f1c-4f7a-9f5e-2a6c1d8b7e40")
	}
}

// ValidID reports whether id is a UUID in its canonical text form
// (8-4-4-4-12 hexadecimal digits, either case): the form account IDs have.
func ValidID(id string) bool {
	_, ok := parseUUID(id)
	return ok
}

// parseUUID parses the canonical text form of a UUID.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, ok1 := fromHex(s[i])
		lo, ok2 := fromHex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

// formatUUID is the canonical lowercase text form of u.
func formatUUID(u [16]byte) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	return string(b)
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
