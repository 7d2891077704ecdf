package sysdeps

import "os/exec"

// Prometheus is Debian's prometheus package: the server the local stack
// runs on its own port and promtool, which checks and unit-tests the
// alerting rules. On a host with systemd the package also starts its own
// prometheus.service on :9090; the project never uses that one (see
// docs/observability.md).
func Prometheus() Package {
	return Package{
		Name: "prometheus",
		Why:  "the local stack's metrics and the alerting rules' tests run real Prometheus and promtool",
		Installed: func() bool {
			_, err1 := exec.LookPath("prometheus")
			_, err2 := exec.LookPath("promtool")
			return err1 == nil && err2 == nil
		},
	}
}

// ShellCheck checks the shell in the GitHub workflows' run: steps;
// actionlint calls it.
func ShellCheck() Package {
	return Package{
		Name: "shellcheck",
		Why:  "actionlint checks the workflows' run: scripts with shellcheck",
		Installed: func() bool {
			_, err := exec.LookPath("shellcheck")
			return err == nil
		},
	}
}

// AnsibleCore is Debian's ansible-core: ansible-inventory parses the
// inventory infra:inventory writes.
func AnsibleCore() Package {
	return Package{
		Name: "ansible-core",
		Why:  "ansible-inventory checks the Ansible inventory written from the Terraform outputs",
		Installed: func() bool {
			_, err := exec.LookPath("ansible-inventory")
			return err == nil
		},
	}
}
