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
