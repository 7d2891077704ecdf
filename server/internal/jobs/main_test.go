package jobs

import (
	"testing"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
)

// TestMain serves the internal and the external tests of the package: one
// test binary, one PostgreSQL cluster.
func TestMain(m *testing.M) { pgtest.Main(m) }
