// Package buildinfo says which build of the server is running: the
// version and source revision release builds stamp into the binary, and
// the Go version that built it. The metrics registry exports them as
// groundwork_build_info, so a dashboard or an alert can tell a rollout
// from a regression, and `server version` prints them.
package buildinfo

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Set by the image build (internal/delivery/images) with
//
//	-ldflags "-X github.com/groundwork-dev/groundwork/server/internal/buildinfo.version=v1.2.3
//	          -X github.com/groundwork-dev/groundwork/server/internal/buildinfo.revision=<commit>"
//
// Plain `go build` in a checkout leaves them empty; Read then falls back to
// what the go command recorded (module version, VCS revision).
var (
	version  string
	revision string
)

// Info identifies a build.
type Info struct {
	Version   string // release version, or "devel"
	Revision  string // source commit, or "unknown"
	GoVersion string // the Go toolchain that built the binary
}

// Read returns the running binary's Info.
func Read() Info {
	info := Info{Version: version, Revision: revision, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Revision == "" {
				info.Revision = s.Value
			}
		}
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	if info.Revision == "" {
		info.Revision = "unknown"
	}
	return info
}

// MetricName is the build's info gauge: always 1, the build in its labels.
const MetricName = "groundwork_build_info"

// Collector exports i as groundwork_build_info{version,revision,goversion} 1.
func (i Info) Collector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: MetricName,
		Help: "The running build: always 1, with its version, source revision and Go version as labels.",
		ConstLabels: prometheus.Labels{
			"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion,
		},
	})
	g.Set(1)
	return g
}
