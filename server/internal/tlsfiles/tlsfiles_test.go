package tlsfiles_test

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/logtest"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/server/internal/clocktest"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles/tlsfilestest"
)

type testBundle struct {
	tree  tlsfilestest.Tree
	clock *clocktest.Clock
	logs  *logtest.Buffer
	opts  tlsfiles.Options
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{tree: tlsfilestest.New(t), clock: clocktest.New(), logs: &logtest.Buffer{}}
	b.opts = tlsfiles.Options{Now: b.clock.Now, Logger: slog.New(slog.NewTextHandler(b.logs, nil))}
	return b
}

func (b *testBundle) keyPair(t *testing.T, secret string) *tlsfiles.KeyPair {
	t.Helper()
	p := b.tree.Paths(secret)
	kp, err := tlsfiles.LoadKeyPair(p.Cert, p.Key, b.opts)
	require.NoError(t, err)
	return kp
}

func serial(c *tls.Certificate) string { return c.Leaf.SerialNumber.String() }

func TestKeyPairReloadsAfterIntervalWhenFilesChange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	kp := b.keyPair(t, tlsfilestest.GRPCServer)
	old := b.tree.Cert(t, tlsfilestest.GRPCServer)
	require.Equal(t, old.SerialNumber.String(), serial(kp.Certificate()))

	renewed := b.tree.Reissue(t, tlsfilestest.GRPCServer)

	// Within the interval the files are not looked at.
	b.clock.Advance(tlsfiles.DefaultInterval / 2)
	require.Equal(t, old.SerialNumber.String(), serial(kp.Certificate()))

	b.clock.Advance(tlsfiles.DefaultInterval)
	got, err := kp.GetCertificate(&tls.ClientHelloInfo{})
	require.NoError(t, err)
	require.Equal(t, renewed.SerialNumber.String(), serial(got))
	got, err = kp.GetClientCertificate(&tls.CertificateRequestInfo{})
	require.NoError(t, err)
	require.Equal(t, renewed.SerialNumber.String(), serial(got))
	require.Contains(t, b.logs.String(), "reloaded key pair")
}

func TestKeyPairUnchangedFilesAreNotReread(t *testing.T) {
	t.Parallel()
	b := setup(t)
	kp := b.keyPair(t, tlsfilestest.GRPCServer)
	first := kp.Certificate()
	b.clock.Advance(time.Hour)
	require.Same(t, first, kp.Certificate(), "same files must give the same parsed value")
	require.NotContains(t, b.logs.String(), "reloaded")
}

func TestKeyPairBadFilesKeepLastGoodAndLogOnce(t *testing.T) {
	t.Parallel()
	for name, breakIt := range map[string]func(t *testing.T, p pki.Paths, tree tlsfilestest.Tree){
		"garbage certificate": func(t *testing.T, p pki.Paths, _ tlsfilestest.Tree) {
			require.NoError(t, os.WriteFile(p.Cert, []byte("not a certificate"), 0o644))
		},
		"empty key": func(t *testing.T, p pki.Paths, _ tlsfilestest.Tree) {
			require.NoError(t, os.WriteFile(p.Key, nil, 0o600))
		},
		"key of another certificate": func(t *testing.T, p pki.Paths, tree tlsfilestest.Tree) {
			other, err := os.ReadFile(tree.Paths(tlsfilestest.TestClient).Key)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p.Key, other, 0o600))
		},
		"missing certificate": func(t *testing.T, p pki.Paths, _ tlsfilestest.Tree) {
			require.NoError(t, os.Remove(p.Cert))
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			kp := b.keyPair(t, tlsfilestest.GRPCServer)
			good := serial(kp.Certificate())

			breakIt(t, b.tree.Paths(tlsfilestest.GRPCServer), b.tree)
			for range 3 {
				b.clock.Advance(2 * tlsfiles.DefaultInterval)
				require.Equal(t, good, serial(kp.Certificate()))
			}
			require.Equal(t, 1, strings.Count(b.logs.String(), "reload failed"), b.logs.String())

			// Repaired: the next look picks up the new files.
			renewed := b.tree.Reissue(t, tlsfilestest.GRPCServer)
			b.clock.Advance(2 * tlsfiles.DefaultInterval)
			require.Equal(t, renewed.SerialNumber.String(), serial(kp.Certificate()))
		})
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.tree.Paths(tlsfilestest.GRPCServer)
	missing := b.tree.Dir + "/nope.crt"

	_, err := tlsfiles.LoadKeyPair(missing, p.Key, b.opts)
	require.ErrorContains(t, err, missing)
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = tlsfiles.LoadKeyPair(p.Cert, b.tree.Paths(tlsfilestest.TestClient).Key, b.opts)
	require.ErrorContains(t, err, "private key does not match public key")

	_, err = tlsfiles.LoadCAPool(p.Key, b.opts)
	require.ErrorContains(t, err, "no PEM certificate")
}

func TestCAPoolReloadAndVerifyServer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A CA bundle file that starts as other-ca and is replaced by server-ca.
	bundle := b.tree.Dir + "/bundle.crt"
	copyFile(t, b.tree.Paths(tlsfilestest.OtherCA).Cert, bundle)
	cas, err := tlsfiles.LoadCAPool(bundle, b.opts)
	require.NoError(t, err)

	server := b.tree.Cert(t, tlsfilestest.GRPCServer)
	state := tls.ConnectionState{PeerCertificates: []*x509.Certificate{server}}
	require.ErrorContains(t, cas.VerifyServer("localhost")(state), "unknown authority")

	copyFile(t, b.tree.Paths(tlsfilestest.ServerCA).Cert, bundle)
	b.clock.Advance(2 * tlsfiles.DefaultInterval)
	require.NoError(t, cas.VerifyServer("localhost")(state))
	require.NoError(t, cas.VerifyServer("127.0.0.1")(state))
	require.ErrorContains(t, cas.VerifyServer("evil.example")(state), "not evil.example")
	require.ErrorContains(t, cas.VerifyServer("")(state), "no server name")
	require.ErrorContains(t, cas.VerifyServer("localhost")(tls.ConnectionState{}), "no certificate")

	// A client certificate from the right CA is no server certificate.
	client := b.tree.Cert(t, tlsfilestest.TestClient)
	err = cas.VerifyServer("localhost")(tls.ConnectionState{PeerCertificates: []*x509.Certificate{client}})
	require.Error(t, err)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	kp := b.keyPair(t, tlsfilestest.GRPCServer)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.clock.Advance(tlsfiles.DefaultInterval)
				require.NotNil(t, kp.Certificate().Leaf)
			}
		})
	}
	b.tree.Reissue(t, tlsfilestest.GRPCServer)
	wg.Wait()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	tmp := to + ".tmp"
	require.NoError(t, os.WriteFile(tmp, b, 0o644))
	require.NoError(t, os.Rename(tmp, to))
}
