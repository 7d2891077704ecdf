// Package ociregistry is the local OCI registry of the Kind cluster: a Go
// process serving go-containerregistry's registry (pkg/registry) over plain
// HTTP, with its storage on disk so pushed images survive a restart.
//
// go-containerregistry keeps blobs in a BlobHandler (here on disk) but
// manifests in memory; Handler journals every manifest written to disk and
// replays the journal when it starts.
//
// Start runs it as a detached process (cmd/registry) that outlives the mage
// invocation; Stop ends it by the pid it recorded.
package ociregistry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// Handler returns the registry's HTTP handler with its storage in dir:
// blobs in dir/blobs, the manifest journal in dir/manifests.
func Handler(dir string, logger *log.Logger) (http.Handler, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o755); err != nil {
		return nil, fmt.Errorf("registry storage: %w", err)
	}
	j := &journal{dir: filepath.Join(dir, "manifests")}
	if err := os.MkdirAll(j.dir, 0o755); err != nil {
		return nil, fmt.Errorf("registry storage: %w", err)
	}
	j.next = ggcr.New(ggcr.Logger(logger), ggcr.WithBlobHandler(ggcr.NewDiskBlobHandler(filepath.Join(dir, "blobs"))))
	if err := j.replay(); err != nil {
		return nil, err
	}
	return j, nil
}

type journal struct {
	dir  string
	next http.Handler
	mu   sync.Mutex
}

type entry struct {
	Repo        string `json:"repo"`
	Ref         string `json:"ref"`
	ContentType string `json:"contentType"`
	Body        []byte `json:"body"`
}

// manifestPath splits /v2/<repo>/manifests/<ref>.
func manifestPath(p string) (repo, ref string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	return rest[:i], rest[i+len("/manifests/"):], true
}

func (j *journal) file(repo, ref string) string {
	return filepath.Join(j.dir, url.PathEscape(repo)+"@"+url.PathEscape(ref)+".json")
}

func (j *journal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	repo, ref, isManifest := manifestPath(r.URL.Path)
	if !isManifest || (r.Method != http.MethodPut && r.Method != http.MethodDelete) {
		j.next.ServeHTTP(w, r)
		return
	}
	var body []byte
	if r.Method == http.MethodPut {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	rec := &statusRecorder{ResponseWriter: w}
	j.next.ServeHTTP(rec, r)
	if rec.status >= 300 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	f := j.file(repo, ref)
	if r.Method == http.MethodDelete {
		_ = os.Remove(f)
		return
	}
	b, err := json.Marshal(entry{Repo: repo, Ref: ref, ContentType: r.Header.Get("Content-Type"), Body: body})
	if err == nil {
		tmp := f + ".tmp"
		if err = os.WriteFile(tmp, b, 0o644); err == nil {
			err = os.Rename(tmp, f)
		}
	}
	if err != nil {
		log.Printf("registry: journaling %q:%q: %v", repo, ref, err) //nolint:gosec // G706: the names are quoted (%q)
	}
}

// replay puts every journaled manifest back. An index is accepted only
// once its children are there, so it retries what failed while each round
// restores something.
func (j *journal) replay() error {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return fmt.Errorf("reading the manifest journal: %w", err)
	}
	var pending []entry
	for _, de := range ents {
		if !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(j.dir, de.Name()))
		if err != nil {
			return fmt.Errorf("reading the manifest journal: %w", err)
		}
		var e entry
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("manifest journal %s: %w", de.Name(), err)
		}
		pending = append(pending, e)
	}
	for len(pending) > 0 {
		var failed []entry
		var last string
		for _, e := range pending {
			req := httptest.NewRequestWithContext(context.Background(), http.MethodPut, "/v2/"+e.Repo+"/manifests/"+e.Ref, bytes.NewReader(e.Body))
			req.Header.Set("Content-Type", e.ContentType)
			rec := httptest.NewRecorder()
			j.next.ServeHTTP(rec, req)
			if rec.Code >= 300 {
				failed = append(failed, e)
				last = fmt.Sprintf("%s:%s: %d %s", e.Repo, e.Ref, rec.Code, strings.TrimSpace(rec.Body.String()))
			}
		}
		if len(failed) == len(pending) {
			return fmt.Errorf("restoring the registry's manifests: %s", last)
		}
		pending = failed
	}
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Serve serves h on every address until ctx ends.
func Serve(ctx context.Context, addrs []string, h http.Handler) error {
	if len(addrs) == 0 {
		return errors.New("registry: no address to listen on")
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, len(addrs))
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return fmt.Errorf("registry: listening on %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		_ = srv.Close()
		return err
	}
}

// Healthy reports whether a registry answers on addr (GET /v2/).
func Healthy(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
