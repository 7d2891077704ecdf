// Package uuidtest makes IDs for tests: random UUIDs (version 4) in the
// canonical text form, as the database's uuid columns hold them and
// account.ValidID accepts them.
package uuidtest

import (
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// New returns a random UUID (version 4) in canonical text form.
func New(t testing.TB) string {
	t.Helper()
	var b [16]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
