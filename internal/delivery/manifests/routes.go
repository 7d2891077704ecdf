package manifests

import (
	"fmt"
	"slices"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/dev/webproxy"
)

// Route is one path prefix of the public origin and where it goes.
type Route struct {
	Prefix    string // e.g. /api/
	Namespace string
	Service   string
	Port      string // the Service's port name
	// StripPrefix is true when the backend sees the path without Prefix
	// (Kratos serves its public API at /).
	StripPrefix bool
}

func (r Route) String() string {
	s := fmt.Sprintf("%s -> %s/%s:%s", r.Prefix, r.Namespace, r.Service, r.Port)
	if r.StripPrefix {
		s += " (prefix stripped)"
	}
	return s
}

// Backends maps each target of the local stack's origin
// (internal/dev/webproxy) to the Service that serves it in the cluster.
var Backends = map[webproxy.Target]Route{
	webproxy.TargetAPI:    {Namespace: "groundwork", Service: "server", Port: "gateway"},
	webproxy.TargetKratos: {Namespace: "groundwork-auth", Service: "kratos", Port: "public"},
	webproxy.TargetAssets: {Namespace: "groundwork", Service: "webapp", Port: "http"},
	webproxy.TargetApp:    {Namespace: "groundwork", Service: "webapp", Port: "http"},
}

// WebRoutes returns the local stack's routes (webproxy.Routes) as the
// Ingresses must route them: each prefix to its Service, leaving out a
// prefix that goes where its parent prefix goes anyway (/assets/ is the
// webapp's, like /).
func WebRoutes() []Route {
	local := slices.Clone(webproxy.Routes)
	slices.SortFunc(local, func(a, b webproxy.Route) int { return len(a.Prefix) - len(b.Prefix) })
	var out []Route
	for _, lr := range local {
		r := Backends[lr.Target]
		r.Prefix, r.StripPrefix = lr.Prefix, lr.Strip
		redundant := false
		for _, parent := range out {
			if strings.HasPrefix(r.Prefix, parent.Prefix) && !r.StripPrefix && !parent.StripPrefix &&
				parent.Namespace == r.Namespace && parent.Service == r.Service && parent.Port == r.Port {
				redundant = true
			}
		}
		if !redundant {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Prefix, b.Prefix) })
	return out
}
