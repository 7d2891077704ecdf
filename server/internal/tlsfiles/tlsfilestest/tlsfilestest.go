// Package tlsfilestest issues the server's certificate tree for tests, in
// the layout of cert-manager Secrets (internal/shared/pki). To move the
// reloading sources of package tlsfiles forward without sleeping, give
// them a clocktest.Clock as tlsfiles.Options.Now.
//
// The tree mirrors the cluster's: server-ca signs the gRPC server's
// certificate (SAN localhost and 127.0.0.1), the gateway's client
// certificate and a test client's; other-ca, an unrelated CA, signs a
// client certificate that the server must refuse.
package tlsfilestest

import (
	"crypto/x509"
	"errors"
	"os"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/shared/pki"
)

// Secret names of the tree: the production names from internal/shared/pki, plus a
// test client and an unrelated CA.
const (
	ServerCA      = pki.ServerCA
	GRPCServer    = pki.ServerGRPCSecret
	GatewayClient = pki.GatewayClientSecret
	TestClient    = "test-client-tls"
	OtherCA       = "other-ca"
	OtherClient   = "other-client-tls"
)

// Spec is the server's production tree (pki.ServerTree) with a test client
// of server-ca and a client of the unrelated other-ca.
func Spec() pki.Spec {
	return pki.Merge(pki.ServerTree(), pki.Spec{
		CAs: []string{OtherCA},
		Leaves: []pki.Leaf{
			{Secret: TestClient, CA: ServerCA, CommonName: "test-client", Usage: pki.ClientAuth},
			{Secret: OtherClient, CA: OtherCA, CommonName: "test-client", Usage: pki.ClientAuth},
		},
	})
}

// Tree is an issued tree in a directory.
type Tree struct {
	Dir  string
	spec pki.Spec
}

// New issues the tree into a temporary directory of t.
func New(t testing.TB) Tree {
	t.Helper()
	return Issue(t, t.TempDir(), Spec())
}

// Issue issues spec into dir.
func Issue(t testing.TB, dir string, spec pki.Spec) Tree {
	t.Helper()
	if _, err := pki.Ensure(dir, spec, pki.Options{}); err != nil {
		t.Fatalf("issue certificates: %v", err)
	}
	return Tree{Dir: dir, spec: spec}
}

// Paths returns the files of a Secret.
func (tr Tree) Paths(secret string) pki.Paths { return pki.SecretPaths(tr.Dir, secret) }

// Cert returns the current certificate of a Secret.
func (tr Tree) Cert(t testing.TB, secret string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(tr.Paths(secret).Cert)
	if err != nil {
		t.Fatalf("read %s: %v", secret, err)
	}
	c, err := pki.ParseCertificatePEM(b)
	if err != nil {
		t.Fatalf("parse %s: %v", secret, err)
	}
	return c
}

// Reissue replaces a leaf with a new certificate and key from the same CA,
// as cert-manager's renewal does (files replaced by rename), and returns the
// new certificate.
func (tr Tree) Reissue(t testing.TB, secret string) *x509.Certificate {
	t.Helper()
	// The current files may be broken on purpose; then there is no serial
	// to compare with.
	var oldSerial string
	if b, err := os.ReadFile(tr.Paths(secret).Cert); err == nil {
		if c, err := pki.ParseCertificatePEM(b); err == nil {
			oldSerial = c.SerialNumber.String()
		}
	}
	if err := os.Remove(tr.Paths(secret).Cert); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("remove %s: %v", secret, err)
	}
	rep, err := pki.Ensure(tr.Dir, tr.spec, pki.Options{})
	if err != nil {
		t.Fatalf("reissue %s: %v", secret, err)
	}
	if len(rep.Issued) != 1 || rep.Issued[0] != secret {
		t.Fatalf("reissue %s: issued %v", secret, rep.Issued)
	}
	c := tr.Cert(t, secret)
	if c.SerialNumber.String() == oldSerial {
		t.Fatalf("reissue %s: serial unchanged", secret)
	}
	return c
}
