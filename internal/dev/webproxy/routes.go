// Package webproxy is the local stack's one origin: a small HTTP server that
// puts the webapp, the API and Kratos under one scheme, host and port, as
// nginx (webapp/nginx/default.conf) or the cluster's ingress does in
// production, so that cookies are first-party and no CORS is needed:
//
//	/api/...                  -> the server's HTTP/JSON gateway, path unchanged
//	/.ory/kratos/public/...   -> Kratos's public API, prefix stripped
//	/assets/...               -> webapp/dist/assets: hashed files, cached a year; 404 if missing
//	/...                      -> webapp/dist: a file if it exists, else index.html
//	                             (the SPA's routes); never cached
//
// In watch mode (dev:watch) the last two go to the Vite dev server instead,
// websockets included, for hot reload.
//
// The route table (Routes, Match) is shared with the test that checks the
// nginx configuration routes every path the same way.
package webproxy

import "strings"

// Target is where a route sends a request.
type Target string

// The route targets.
const (
	TargetAPI    Target = "api"    // the server's gateway
	TargetKratos Target = "kratos" // Kratos's public API
	TargetAssets Target = "assets" // hashed build output: a file or 404
	TargetApp    Target = "app"    // a file of the build, else index.html
)

// Route is one prefix of the origin.
type Route struct {
	Prefix string
	Target Target
	// Strip removes Prefix (keeping its final "/") before proxying.
	Strip bool
}

// Routes is the table, matched by longest prefix like nginx's prefix
// locations.
var Routes = []Route{
	{Prefix: "/api/", Target: TargetAPI},
	{Prefix: "/.ory/kratos/public/", Target: TargetKratos, Strip: true},
	{Prefix: "/assets/", Target: TargetAssets},
	{Prefix: "/", Target: TargetApp},
}

// Match returns the route of a request path.
func Match(path string) Route {
	best := Route{Prefix: "/", Target: TargetApp}
	for _, r := range Routes {
		if strings.HasPrefix(path, r.Prefix) && len(r.Prefix) > len(best.Prefix) {
			best = r
		}
	}
	return best
}

// upstreamPath is the path the upstream of r sees for path.
func (r Route) upstreamPath(path string) string {
	if !r.Strip {
		return path
	}
	return "/" + strings.TrimPrefix(path, r.Prefix)
}
