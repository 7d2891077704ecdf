package buildinfo

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestCollectorExportsTheBuild(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Info{Version: "v1.2.3", Revision: "abc123", GoVersion: "go1.26.0"}.Collector())
	want := `# HELP groundwork_build_info The running build: always 1, with its version, source revision and Go version as labels.
# TYPE groundwork_build_info gauge
groundwork_build_info{goversion="go1.26.0",revision="abc123",version="v1.2.3"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), MetricName))
}

func TestReadFallsBack(t *testing.T) {
	// A test binary carries no stamp and no VCS revision: the defaults
	// must still be set, never empty label values.
	i := Read()
	require.Equal(t, runtime.Version(), i.GoVersion)
	require.NotEmpty(t, i.Version)
	require.NotEmpty(t, i.Revision)
}

func TestReadPrefersTheStamp(t *testing.T) {
	oldV, oldR := version, revision
	t.Cleanup(func() { version, revision = oldV, oldR })
	version, revision = "v9.9.9", "feedface"
	i := Read()
	require.Equal(t, "v9.9.9", i.Version)
	require.Equal(t, "feedface", i.Revision)
}
