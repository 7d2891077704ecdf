package messengergen_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/messengergen"
)

// spec1000 builds a spec of 100 API sources sending 10 messages each (1,000
// routes) through up to two of 10 middlewares to one of 10 repositories,
// with one messenger holding everything.
func spec1000() []byte {
	var b strings.Builder
	b.WriteString("imports:\n  api: example.com/app/api\nhandlers:\n")
	var all []string
	for i := range 100 {
		fmt.Fprintf(&b, "  - {name: API%d, type: \"*api.API%d\"}\n", i, i)
		all = append(all, fmt.Sprintf("API%d", i))
	}
	for i := range 10 {
		fmt.Fprintf(&b, "  - {name: MW%d, type: \"*api.MW%d\"}\n  - {name: Repo%d, type: \"*api.Repo%d\"}\n", i, i, i, i)
		all = append(all, fmt.Sprintf("MW%d", i), fmt.Sprintf("Repo%d", i))
	}
	b.WriteString("routes:\n")
	for i := range 100 {
		fmt.Fprintf(&b, "  - source: API%d\n    messages:\n", i)
		for j := range 10 {
			n := i*10 + j
			receivers := []string{fmt.Sprintf("Repo%d", n%10)}
			for k := range n % 3 {
				receivers = append([]string{fmt.Sprintf("MW%d", (n+k)%10)}, receivers...)
			}
			fmt.Fprintf(&b, "      - name: Msg%d\n        message: \"*api.Req%d\"\n        response: \"*api.Resp%d\"\n        receivers: [%s]\n",
				n, n, n, strings.Join(receivers, ", "))
		}
	}
	fmt.Fprintf(&b, "messengers:\n  - name: app\n    package: messenger\n    output: messenger/messenger.go\n    handlers: [%s]\n", strings.Join(all, ", "))
	return []byte(b.String())
}

func BenchmarkGenerate1000Routes(b *testing.B) {
	spec := spec1000()
	files, err := messengergen.Generate(spec, "routing.yaml", messengergen.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(files["messenger/messenger.go"])), "bytes-out")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := messengergen.Generate(spec, "routing.yaml", messengergen.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
