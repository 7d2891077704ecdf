package pgtest_test

import (
	"os"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
)

func pgtestExternal() bool { return os.Getenv(pgtest.EnvURL) != "" }
