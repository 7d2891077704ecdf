package sysdeps

import (
	"os"
	"os/exec"
)

// ChromiumPath is where Debian's chromium package installs the browser the
// end-to-end tests drive (playwright-core launches it by path; its own
// browser downloads cannot work offline).
const ChromiumPath = "/usr/bin/chromium"

// Chromium is the browser of the webapp's end-to-end tests.
func Chromium() Package {
	return Package{
		Name: "chromium",
		Why:  "the webapp's end-to-end tests drive a real browser",
		Installed: func() bool {
			if fi, err := os.Stat(ChromiumPath); err == nil && !fi.IsDir() {
				return true
			}
			_, err := exec.LookPath("chromium")
			return err == nil
		},
	}
}

// Nginx is the production web server of the webapp; the test that runs its
// configuration beside the local proxy (internal/dev/webproxy) needs the binary.
// Debian's package does not start a server when no init system runs it, and
// the test runs its own on a free port.
func Nginx() Package {
	return Package{
		Name: "nginx",
		Why:  "the webapp's nginx configuration is tested in real nginx",
		Installed: func() bool {
			if _, err := exec.LookPath("nginx"); err == nil {
				return true
			}
			_, err := os.Stat("/usr/sbin/nginx")
			return err == nil
		},
	}
}
