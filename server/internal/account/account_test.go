package account

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/invalid"
)

const (
	owner   = "6f1f4a0e-8a4b-4c1e-9d3a-0b7c2e5f9a11"
	otherID = "0d9e8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
)

// violations returns the violations of err, which must be an *invalid.Error.
func violations(t *testing.T, err error) []invalid.Violation {
	t.Helper()
	var bad *invalid.Error
	require.ErrorAs(t, err, &bad)
	return bad.Violations
}

func TestCreateValidateName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		input   string
		problem string // "" means valid
	}{
		{"ascii", "Acme", ""},
		{"max length ascii", strings.Repeat("a", MaxNameLength), ""},
		{"max length multibyte counts characters not bytes", strings.Repeat("é", MaxNameLength), ""},
		{"surrounding spaces are kept and allowed", "  Acme  ", ""},
		{"empty", "", "must not be empty"},
		{"too long", strings.Repeat("a", MaxNameLength+1), "must be at most 100 characters, got 101"},
		{"too long multibyte", strings.Repeat("日", MaxNameLength+1), "must be at most 100 characters, got 101"},
		{"only spaces", "   ", "must not be only whitespace"},
		{"only mixed whitespace", " \t\n\u00a0\u3000", "must not be only whitespace"},
		{"invalid UTF-8", "Acme\xff", "must be valid UTF-8"},
		{"NUL", "Ac\x00me", "must not contain control characters"},
		{"newline inside", "Ac\nme", "must not contain control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Create{Owner: owner, Name: tc.input}.Validate()
			if tc.problem == "" {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, []invalid.Violation{{Field: "name", Description: tc.problem}}, violations(t, err))
		})
	}
}

func TestValidateID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id    string
		valid bool
	}{
		{owner, true},
		{strings.ToUpper(owner), true},
		{"", false},
		{"not-a-uuid", false},
		{owner[:35], false},
		{owner + "0", false},
		{strings.ReplaceAll(owner, "-", ""), false},
		{"6f1f4a0e-8a4b-4c1e-9d3a-0b7c2e5f9a1g", false},
		{"6f1f4a0e_8a4b-4c1e-9d3a-0b7c2e5f9a11", false},
	} {
		assert.Equal(t, tc.valid, ValidID(tc.id), "ValidID(%q)", tc.id)
		for _, err := range []error{Get{Owner: owner, ID: tc.id}.Validate(), Delete{Owner: owner, ID: tc.id}.Validate()} {
			if tc.valid {
				assert.NoError(t, err, tc.id)
				continue
			}
			vs := violations(t, err)
			require.Len(t, vs, 1)
			assert.Equal(t, "id", vs[0].Field, tc.id)
		}
	}
}

func TestUpdateValidateReportsEveryField(t *testing.T) {
	t.Parallel()
	err := Update{Owner: owner, ID: "x", Name: ""}.Validate()
	assert.Equal(t, []invalid.Violation{
		{Field: "id", Description: "must be a UUID such as 9b2d6a8e-3f1c-4f7a-9f5e-2a6c1d8b7e40"},
		{Field: "name", Description: "must not be empty"},
	}, violations(t, err))
	assert.Equal(t, "id: must be a UUID such as 9b2d6a8e-3f1c-4f7a-9f5e-2a6c1d8b7e40; name: must not be empty", err.Error())

	require.NoError(t, Update{Owner: owner, ID: otherID, Name: "ok"}.Validate())
}

func TestListLimit(t *testing.T) {
	t.Parallel()
	for size, want := range map[int]int{0: DefaultPageSize, 1: 1, 20: 20, 99: 99, 100: 100, 101: MaxPageSize, 1 << 30: MaxPageSize} {
		assert.Equal(t, want, List{PageSize: size}.Limit(), "PageSize %d", size)
	}
}

func TestListValidate(t *testing.T) {
	t.Parallel()
	cursor := Cursor{CreateTime: time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC), ID: otherID}
	token := cursor.PageToken(owner)

	require.NoError(t, List{Owner: owner}.Validate())
	require.NoError(t, List{Owner: owner, PageSize: 500, PageToken: token}.Validate())

	assert.Equal(t, []invalid.Violation{{Field: "page_size", Description: "must not be negative"}},
		violations(t, List{Owner: owner, PageSize: -1}.Validate()))

	malformed := "is malformed; pass the next_page_token of a previous response unchanged"
	for name, tok := range map[string]string{
		"not base64":      "!!!",
		"padded base64":   token + "=",
		"too short":       token[:len(token)-2],
		"too long":        token + "AA",
		"standard base64": strings.NewReplacer("-", "+", "_", "/").Replace(token) + "+",
		"other version":   withVersion(t, token, 2),
	} {
		vs := violations(t, List{Owner: owner, PageToken: tok}.Validate())
		assert.Equal(t, []invalid.Violation{{Field: "page_token", Description: malformed}}, vs, name)
	}

	assert.Equal(t, []invalid.Violation{{Field: "page_token", Description: "was not issued for this caller"}},
		violations(t, List{Owner: otherID, PageToken: token}.Validate()))

	// Both problems at once are both reported.
	assert.Len(t, violations(t, List{Owner: owner, PageSize: -5, PageToken: "x"}.Validate()), 2)
}

// withVersion returns token with its version byte replaced.
func withVersion(t *testing.T, token string, v byte) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)
	b[0] = v
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestPageTokenRoundTrip(t *testing.T) {
	t.Parallel()
	for _, ct := range []time.Time{
		time.Date(2026, 11, 25, 23, 39, 1, 123456000, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC), // before the epoch: negative microseconds
		time.UnixMicro(0).UTC(),
	} {
		c := Cursor{CreateTime: ct, ID: strings.ToUpper(otherID)}
		token := c.PageToken(owner)
		assert.NotContains(t, token, otherID, "the token is opaque")
		got, ok, err := List{Owner: owner, PageToken: token}.After()
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, got.CreateTime.Equal(ct), "time %v, want %v", got.CreateTime, ct)
		assert.Equal(t, otherID, got.ID, "IDs come back in canonical lowercase")
	}

	_, ok, err := List{Owner: owner}.After()
	require.NoError(t, err)
	assert.False(t, ok, "no token: first page")

	_, _, err = List{Owner: owner, PageToken: "garbage"}.After()
	var bad *invalid.Error
	require.True(t, errors.As(err, &bad))
	assert.Equal(t, "page_token", bad.Violations[0].Field)
}

func TestPageTokenPanicsOnNonUUID(t *testing.T) {
	t.Parallel()
	assert.Panics(t, func() { _ = Cursor{ID: "nope"}.PageToken(owner) })
}
