// Package registrytest serves a real OCI registry (go-containerregistry's
// pkg/registry, which package registry runs as a process) over
// TLS for tests, reachable under a name its certificate carries.
package registrytest

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Host is the name the registry is reached as: one httptest's test
// certificate is valid for, so that clients verify it as they would a real
// registry's.
const Host = "registry.example.com"

// TLS is a registry served over TLS until the test ends.
type TLS struct {
	Port      string          // the port to put after Host
	CAFile    string          // PEM file of the CA that signed its certificate
	Transport *http.Transport // dials the registry whatever the host name
}

// ServeTLS serves the registry over TLS with httptest's CA; wrap, if not
// nil, wraps its handler (to require credentials, say).
func ServeTLS(t testing.TB, wrap func(http.Handler) http.Handler) TLS {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	addr := srv.Listener.Addr().String()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	return TLS{Port: port, CAFile: ca, Transport: tr}
}
