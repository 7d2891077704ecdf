package sysdeps

import (
	"os"
	"os/exec"

	"github.com/groundwork-dev/groundwork/internal/shared/pgcluster"
)

// PostgreSQL is the server package. Debian's package would create and start
// a cluster of its own on port 5432; the policy file written first tells
// postgresql-common not to, since the project runs its own clusters.
func PostgreSQL() Package {
	return Package{
		Name: "postgresql",
		Why:  "the local stack and the tests run real PostgreSQL servers",
		Installed: func() bool {
			_, err := pgcluster.FindBinaries()
			// Running as root, the server needs its unprivileged OS user,
			// which the package creates.
			return err == nil && (os.Geteuid() != 0 || UserExists("postgres"))
		},
		Prepare: func() error {
			if err := os.MkdirAll("/etc/postgresql-common", 0o755); err != nil {
				return err
			}
			const conf = "/etc/postgresql-common/createcluster.conf"
			if _, err := os.Stat(conf); err == nil {
				return nil
			}
			return os.WriteFile(conf, []byte("# Written by groundwork: no default cluster.\ncreate_main_cluster = false\n"), 0o644)
		},
	}
}

// PostgreSQLClient provides psql, for db:shell.
func PostgreSQLClient() Package {
	return Package{
		Name: "postgresql-client",
		Why:  "db:shell runs psql",
		Installed: func() bool {
			_, err := exec.LookPath("psql")
			return err == nil
		},
	}
}
