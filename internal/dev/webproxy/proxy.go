package webproxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Security headers of every answer. The CSP allows only this origin's
// scripts, styles, images and connections (the webapp talks to /api/ and
// /.ory/ on the same origin) and no framing; nginx sends the same.
const (
	ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
	ReferrerPolicy        = "same-origin"

	// CacheImmutable is for hashed assets; CacheRevalidate for everything
	// else the webapp serves (index.html above all).
	CacheImmutable  = "public, max-age=31536000, immutable"
	CacheRevalidate = "no-cache"
)

// watchCSP is the policy in watch mode: Vite's dev server injects an inline
// script (React refresh) and talks to its websocket.
const watchCSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"

// Config is what the proxy serves.
type Config struct {
	API    *url.URL // the gateway, e.g. http://127.0.0.1:26000
	Kratos *url.URL // Kratos public, e.g. http://127.0.0.1:4433
	// Dist is the webapp's build output (webapp/dist). Ignored with DevServer.
	Dist string
	// DevServer, when set, serves the webapp instead of Dist (Vite, watch mode).
	DevServer *url.URL
	Logger    *slog.Logger
}

func (c Config) validate() error {
	var errs []error
	for _, u := range []struct {
		name string
		u    *url.URL
	}{{"api", c.API}, {"kratos", c.Kratos}} {
		if u.u == nil || u.u.Host == "" || (u.u.Scheme != "http" && u.u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("--%s: want an http(s) URL with a host", u.name))
		}
	}
	if c.DevServer == nil {
		if c.Dist == "" {
			errs = append(errs, errors.New("--dist: required without --dev-server"))
		} else if fi, err := os.Stat(filepath.Join(c.Dist, "index.html")); err != nil || fi.IsDir() {
			errs = append(errs, fmt.Errorf("--dist: %s has no index.html: build the webapp (npm run build in webapp/)", c.Dist))
		}
	} else if c.DevServer.Host == "" {
		errs = append(errs, errors.New("--dev-server: want an http URL with a host"))
	}
	return errors.Join(errs...)
}

// New returns the origin's handler.
func New(c Config) (http.Handler, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{cfg: c, csp: ContentSecurityPolicy}
	h.api = h.reverse(c.API, Route{Prefix: "/api/", Target: TargetAPI})
	h.kratos = h.reverse(c.Kratos, Route{Prefix: "/.ory/kratos/public/", Target: TargetKratos, Strip: true})
	if c.DevServer != nil {
		h.csp = watchCSP
		h.dev = h.reverse(c.DevServer, Route{Prefix: "/", Target: TargetApp})
	} else {
		h.files = http.FileServer(http.Dir(c.Dist))
	}
	return h, nil
}

type handler struct {
	cfg              Config
	csp              string
	api, kratos, dev http.Handler
	files            http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("Referrer-Policy", ReferrerPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	route := Match(r.URL.Path)
	if proxied := Match(r.URL.Path + "/"); proxied.Prefix == r.URL.Path+"/" && (proxied.Target == TargetAPI || proxied.Target == TargetKratos) {
		// "/api" is "/api/" (nginx answers a proxied prefix without its
		// slash the same way).
		to := proxied.Prefix
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery
		}
		rw.Header().Set("Cache-Control", CacheRevalidate)
		// Not an open redirect: the target is one of our own prefixes; the
		// query only follows its "?".
		http.Redirect(rw, r, to, http.StatusMovedPermanently) //nolint:gosec // G710: see above
		return
	}
	switch {
	case route.Target == TargetAPI:
		h.api.ServeHTTP(rw, r)
	case route.Target == TargetKratos:
		h.kratos.ServeHTTP(rw, r)
	case h.dev != nil:
		h.dev.ServeHTTP(rw, r)
	default:
		h.static(rw, r, route)
	}
	h.cfg.Logger.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rw.status, "route", string(route.Target), "duration", time.Since(start).Round(time.Microsecond))
}

// static serves the build: files as they are, hashed assets cached for a
// year, and index.html for any other path (the SPA's own routes).
func (h *handler) static(w http.ResponseWriter, r *http.Request, route Route) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	clean := path.Clean("/" + r.URL.Path)
	exists := false
	if fi, err := fs.Stat(os.DirFS(h.cfg.Dist), strings.TrimPrefix(clean, "/")); err == nil && !fi.IsDir() {
		exists = true
	}
	switch {
	case route.Target == TargetAssets && exists:
		w.Header().Set("Cache-Control", CacheImmutable)
		h.files.ServeHTTP(w, r)
	case route.Target == TargetAssets:
		// A missing hashed asset is a stale page asking for an old build:
		// 404, not index.html, which the browser would take for a script.
		w.Header().Set("Cache-Control", CacheRevalidate)
		http.NotFound(w, r)
	case exists && clean != "/index.html":
		w.Header().Set("Cache-Control", CacheRevalidate)
		h.files.ServeHTTP(w, r)
	default:
		w.Header().Set("Cache-Control", CacheRevalidate)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeFile(w, withPath(r, "/"), filepath.Join(h.cfg.Dist, "index.html"))
	}
}

// withPath is r for another path (http.ServeFile redirects requests for
// .../index.html to .../).
func withPath(r *http.Request, p string) *http.Request {
	r2 := r.Clone(r.Context())
	r2.URL.Path = p
	return r2
}

// reverse proxies to upstream, rewriting the path as route says. Origin,
// Referer, Cookie and Content-Type pass unchanged: the server checks them
// (CSRF) and Kratos needs its cookies.
func (h *handler) reverse(upstream *url.URL, route Route) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Path = route.upstreamPath(pr.In.URL.Path)
			pr.Out.URL.RawPath = ""
			pr.SetURL(upstream)
			pr.SetXForwarded()
		},
		// Vite's dev server streams and upgrades; flush at once.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			h.cfg.Logger.Warn("upstream unavailable", "route", string(route.Target), "upstream", upstream.String(), "path", r.URL.Path, "error", err)
			// The shape of a google.rpc.Status (UNAVAILABLE), which the
			// webapp shows like any API error.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 14, "message": fmt.Sprintf("%s is not reachable (local proxy): is the stack up? go tool mage dev:status", route.Target), "details": []any{}})
		},
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (websocket
// upgrades through the reverse proxy, flushing).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush flushes when the underlying writer can.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
