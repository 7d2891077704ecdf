package sysdeps

import (
	"context"
	"os/exec"
)

// onPath reports whether every program is on PATH: how most packages here
// are told installed.
func onPath(programs ...string) func() bool {
	return func() bool {
		for _, p := range programs {
			if _, err := exec.LookPath(p); err != nil {
				return false
			}
		}
		return true
	}
}

// Prometheus is Debian's prometheus package: the server the local stack
// runs on its own port and promtool, which checks and unit-tests the
// alerting rules. On a host with systemd the package also starts its own
// prometheus.service on :9090; the project never uses that one (see
// docs/observability.md).
func Prometheus() Package {
	return Package{
		Name:      "prometheus",
		Why:       "the local stack's metrics and the alerting rules' tests run real Prometheus and promtool",
		Installed: onPath("prometheus", "promtool"),
	}
}

// ShellCheck checks the shell in the GitHub workflows' run: steps;
// actionlint calls it.
func ShellCheck() Package {
	return Package{
		Name:      "shellcheck",
		Why:       "actionlint checks the workflows' run: scripts with shellcheck",
		Installed: onPath("shellcheck"),
	}
}

// Ansible is Debian's ansible: ansible-core with the community collections
// the playbooks use (community.general's modprobe; its chroot connection
// runs the roles in the offline test).
func Ansible() Package {
	return Package{
		Name: "ansible",
		Why:  "the cluster's playbooks (ansible/) run with Ansible and community.general",
		Installed: func() bool {
			return onPath("ansible-playbook", "ansible-inventory")() &&
				exec.CommandContext(context.Background(), "ansible-doc", "-t", "connection", "community.general.chroot").Run() == nil
		},
	}
}

// AnsibleLint lints the playbooks and roles in mage ci.
func AnsibleLint() Package {
	return Package{
		Name:      "ansible-lint",
		Why:       "ansible:check lints the playbooks and roles",
		Installed: onPath("ansible-lint"),
	}
}

// AnsibleChroot is what the roles' offline run needs besides Ansible:
// debootstrap for the Debian root filesystem, dpkg-dev and gnupg for the
// stand-in packages' signed repositories.
func AnsibleChroot() []Package {
	why := "the roles' offline test runs them in a Debian root filesystem with stand-in packages from signed repositories"
	return []Package{
		{Name: "debootstrap", Why: why, Installed: onPath("debootstrap")},
		{Name: "dpkg-dev", Why: why, Installed: onPath("dpkg-scanpackages")},
		{Name: "gnupg", Why: why, Installed: onPath("gpg", "gpgconf")},
	}
}

// CurlJQ are the HTTP client and JSON tool docs/api.md's journey uses.
func CurlJQ() []Package {
	why := "docs/api.md's API journey uses curl and jq"
	return []Package{
		{Name: "curl", Why: why, Installed: onPath("curl")},
		{Name: "jq", Why: why, Installed: onPath("jq")},
	}
}
