package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/pki"
)

// t0 is a fixed clock, so that renewal tests do not depend on the date.
var t0 = time.Date(2030, 1, 15, 12, 0, 0, 0, time.UTC)

func at(t time.Time) pki.Options { return pki.Options{Now: func() time.Time { return t }} }

// twoServices is a tree of two independent service CAs, as in the cluster:
// postgres-ca signs PostgreSQL's certificate and the database clients',
// server-ca signs the gRPC server's.
func twoServices() pki.Spec {
	return pki.Merge(
		pki.PostgresTree("migrator", "server"),
		pki.Spec{
			CAs: []string{"server-ca"},
			Leaves: []pki.Leaf{{
				Secret: "server-tls", CA: "server-ca", CommonName: "server",
				DNSNames: []string{"localhost", "server.groundwork.svc"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
				Usage: pki.ServerAuth | pki.ClientAuth,
			}},
		},
	)
}

type testBundle struct {
	dir  string
	spec pki.Spec
}

// setup issues the two-service tree under a fresh directory at t0.
func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{dir: filepath.Join(t.TempDir(), "pki"), spec: twoServices()}
	rep, err := pki.Ensure(b.dir, b.spec, at(t0))
	require.NoError(t, err)
	require.True(t, rep.Changed())
	return b
}

// snapshot reads every file under dir, by relative path.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		files[rel] = b
		return err
	})
	require.NoError(t, err)
	return files
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	c, err := pki.ParseCertificatePEM(b)
	require.NoError(t, err)
	return c
}

func readKey(t *testing.T, path string) *ecdsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	block, _ := pem.Decode(b)
	require.NotNil(t, block, "%s holds no PEM block", path)
	require.Equal(t, "PRIVATE KEY", block.Type, "keys are PKCS#8")
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	key, ok := k.(*ecdsa.PrivateKey)
	require.True(t, ok, "key is %T, want ECDSA", k)
	return key
}

// verify checks secret's leaf against the CA in caSecret's tls.crt.
func verify(t *testing.T, dir, secret, caSecret string, usage x509.ExtKeyUsage, at time.Time) error {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, pki.SecretPaths(dir, caSecret).Cert))
	leaf := readCert(t, pki.SecretPaths(dir, secret).Cert)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}, CurrentTime: at})
	return err
}

func TestEnsureCreatesTree(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pki")

	rep, err := pki.Ensure(dir, twoServices(), at(t0))
	require.NoError(t, err)
	require.Equal(t, []string{
		pki.PostgresCA, "server-ca",
		pki.PostgresServerSecret, pki.DBClientSecret("migrator"), pki.DBClientSecret("server"), "server-tls",
	}, rep.Issued, "CAs first, then leaves, in spec order")

	fi, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o700), fi.Mode().Perm(), "the certificate directory holds keys")

	for _, secret := range rep.Issued {
		p := pki.SecretPaths(dir, secret)
		for _, f := range []string{p.Cert, p.Key, p.CA} {
			require.FileExists(t, f)
		}
		fi, err := os.Stat(p.Key)
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "%s must be readable by its owner only", p.Key)

		cert := readCert(t, p.Cert)
		key := readKey(t, p.Key)
		require.Equal(t, elliptic.P256(), key.Curve, "%s: keys are ECDSA P-256", secret)
		require.Equal(t, x509.ECDSA, cert.PublicKeyAlgorithm)
		require.True(t, key.PublicKey.Equal(cert.PublicKey), "%s: tls.key belongs to tls.crt", secret)
		require.Equal(t, []string{"groundwork"}, cert.Subject.Organization)
	}

	// No temporary files are left behind by the atomic writes.
	for rel := range snapshot(t, dir) {
		require.NotRegexp(t, `(^|/)\.`, rel, "leftover temporary file")
	}
	require.Len(t, snapshot(t, dir), 3*len(rep.Issued))
}

func TestEnsureCAs(t *testing.T) {
	t.Parallel()
	b := setup(t)

	for _, name := range []string{pki.PostgresCA, "server-ca"} {
		p := pki.SecretPaths(b.dir, name)
		ca := readCert(t, p.Cert)
		require.True(t, ca.IsCA)
		require.True(t, ca.MaxPathLenZero, "a service CA signs leaves only")
		require.Equal(t, name, ca.Subject.CommonName)
		require.NoError(t, ca.CheckSignatureFrom(ca), "each service CA is self-signed")
		require.Equal(t, x509.KeyUsageCertSign, ca.KeyUsage&x509.KeyUsageCertSign)
		require.Equal(t, t0.Add(365*24*time.Hour), ca.NotAfter, "default CA validity is a year")
		caFile, err := os.ReadFile(p.CA)
		require.NoError(t, err)
		certFile, err := os.ReadFile(p.Cert)
		require.NoError(t, err)
		require.Equal(t, certFile, caFile, "a CA Secret's ca.crt is the CA itself")
	}
	require.NotEqual(t,
		readCert(t, pki.SecretPaths(b.dir, pki.PostgresCA).Cert).PublicKey,
		readCert(t, pki.SecretPaths(b.dir, "server-ca").Cert).PublicKey,
		"service CAs have keys of their own")
}

func TestEnsureLeaves(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("PostgresServer", func(t *testing.T) {
		t.Parallel()
		p := pki.SecretPaths(b.dir, pki.PostgresServerSecret)
		leaf := readCert(t, p.Cert)
		require.False(t, leaf.IsCA)
		require.Equal(t, "postgres", leaf.Subject.CommonName)
		require.Equal(t, []string{"localhost"}, leaf.DNSNames)
		require.Len(t, leaf.IPAddresses, 1)
		require.True(t, leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)))
		require.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, leaf.ExtKeyUsage)
		require.Equal(t, t0.Add(30*24*time.Hour), leaf.NotAfter, "default leaf validity is 30 days")

		require.NoError(t, verify(t, b.dir, pki.PostgresServerSecret, pki.PostgresCA, x509.ExtKeyUsageServerAuth, t0))
		require.NoError(t, leaf.VerifyHostname("localhost"))
		require.NoError(t, leaf.VerifyHostname("127.0.0.1"))
		require.Error(t, leaf.VerifyHostname("db.example.com"))
		var inv x509.CertificateInvalidError
		require.ErrorAs(t, verify(t, b.dir, pki.PostgresServerSecret, pki.PostgresCA, x509.ExtKeyUsageClientAuth, t0), &inv,
			"a server certificate must not authenticate a client")
		require.Equal(t, x509.IncompatibleUsage, inv.Reason)

		caFile, err := os.ReadFile(p.CA)
		require.NoError(t, err)
		caCert, err := os.ReadFile(pki.SecretPaths(b.dir, pki.PostgresCA).Cert)
		require.NoError(t, err)
		require.Equal(t, caCert, caFile, "a leaf's ca.crt is its issuer")
	})

	t.Run("DatabaseClient", func(t *testing.T) {
		t.Parallel()
		leaf := readCert(t, pki.SecretPaths(b.dir, pki.DBClientSecret("migrator")).Cert)
		require.Equal(t, "migrator", leaf.Subject.CommonName, "a database client's CN is its role")
		require.Empty(t, leaf.DNSNames)
		require.Empty(t, leaf.IPAddresses)
		require.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage)
		require.NoError(t, verify(t, b.dir, pki.DBClientSecret("migrator"), pki.PostgresCA, x509.ExtKeyUsageClientAuth, t0))
		var inv x509.CertificateInvalidError
		require.ErrorAs(t, verify(t, b.dir, pki.DBClientSecret("migrator"), pki.PostgresCA, x509.ExtKeyUsageServerAuth, t0), &inv,
			"a client certificate must not serve TLS")
		require.Equal(t, x509.IncompatibleUsage, inv.Reason)
	})

	t.Run("BothUsages", func(t *testing.T) {
		t.Parallel()
		leaf := readCert(t, pki.SecretPaths(b.dir, "server-tls").Cert)
		require.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage)
		require.NoError(t, verify(t, b.dir, "server-tls", "server-ca", x509.ExtKeyUsageServerAuth, t0))
		require.NoError(t, verify(t, b.dir, "server-tls", "server-ca", x509.ExtKeyUsageClientAuth, t0))
	})

	t.Run("OtherServiceCADoesNotTrustIt", func(t *testing.T) {
		t.Parallel()
		// The service CAs are independent self-signed anchors: a certificate
		// from server-ca, whatever its CN, cannot log in to PostgreSQL, and
		// PostgreSQL's clients are not trusted by the gRPC server.
		var unknown x509.UnknownAuthorityError
		require.ErrorAs(t, verify(t, b.dir, "server-tls", pki.PostgresCA, x509.ExtKeyUsageClientAuth, t0), &unknown)
		require.ErrorAs(t, verify(t, b.dir, pki.DBClientSecret("server"), "server-ca", x509.ExtKeyUsageClientAuth, t0), &unknown)
		require.ErrorAs(t, verify(t, b.dir, pki.PostgresServerSecret, "server-ca", x509.ExtKeyUsageServerAuth, t0), &unknown)
	})

	t.Run("ExpiresWithItsLifetime", func(t *testing.T) {
		t.Parallel()
		var inv x509.CertificateInvalidError
		require.ErrorAs(t, verify(t, b.dir, pki.DBClientSecret("server"), pki.PostgresCA, x509.ExtKeyUsageClientAuth, t0.Add(31*24*time.Hour)), &inv)
		require.Equal(t, x509.Expired, inv.Reason)
	})
}

func TestEnsureIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before := snapshot(t, b.dir)

	// Later, but with more than a third of every lifetime left.
	for _, now := range []time.Time{t0, t0.Add(time.Hour), t0.Add(19 * 24 * time.Hour)} {
		rep, err := pki.Ensure(b.dir, b.spec, at(now))
		require.NoError(t, err)
		require.Empty(t, rep.Issued, "at %s nothing needs renewal", now)
		require.False(t, rep.Changed())
		require.Equal(t, before, snapshot(t, b.dir), "files must be byte-identical")
	}
}

func TestEnsureRenewsLeafWithAThirdOfItsLifeLeft(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before := snapshot(t, b.dir)

	// 30-day leaves have 9 days left: renew them; the year-long CAs stay.
	now := t0.Add(21 * 24 * time.Hour)
	rep, err := pki.Ensure(b.dir, b.spec, at(now))
	require.NoError(t, err)
	require.Equal(t, []string{pki.PostgresServerSecret, pki.DBClientSecret("migrator"), pki.DBClientSecret("server"), "server-tls"}, rep.Issued)

	after := snapshot(t, b.dir)
	for _, ca := range []string{pki.PostgresCA, "server-ca"} {
		for _, f := range []string{pki.CertFile, pki.KeyFile, pki.CAFile} {
			rel := filepath.Join(ca, f)
			require.Equal(t, before[rel], after[rel], "%s must not change", rel)
		}
	}
	p := pki.SecretPaths(b.dir, pki.DBClientSecret("server"))
	leaf := readCert(t, p.Cert)
	require.Equal(t, now.Add(30*24*time.Hour), leaf.NotAfter)
	require.NotEqual(t, before[filepath.Join(pki.DBClientSecret("server"), pki.KeyFile)], after[filepath.Join(pki.DBClientSecret("server"), pki.KeyFile)],
		"a renewed certificate gets a new key")
	require.NoError(t, verify(t, b.dir, pki.DBClientSecret("server"), pki.PostgresCA, x509.ExtKeyUsageClientAuth, now))

	rep, err = pki.Ensure(b.dir, b.spec, at(now))
	require.NoError(t, err)
	require.Empty(t, rep.Issued, "renewed certificates are fresh")
}

func TestEnsureReissuesLeavesOfARenewedCA(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before := snapshot(t, b.dir)

	// The CA has less than a third of its year left; run at a time when
	// the leaves would be fresh on their own (they were renewed recently).
	mid := t0.Add(240 * 24 * time.Hour)
	_, err := pki.Ensure(b.dir, b.spec, at(mid))
	require.NoError(t, err)
	now := mid.Add(5 * 24 * time.Hour) // leaves fresh, CAs at 120 of 365 days left
	rep, err := pki.Ensure(b.dir, b.spec, at(now))
	require.NoError(t, err)
	require.Equal(t, []string{
		pki.PostgresCA, "server-ca",
		pki.PostgresServerSecret, pki.DBClientSecret("migrator"), pki.DBClientSecret("server"), "server-tls",
	}, rep.Issued)
	require.NotEqual(t, before[filepath.Join(pki.PostgresCA, pki.CertFile)], snapshot(t, b.dir)[filepath.Join(pki.PostgresCA, pki.CertFile)])
	for _, leaf := range []string{pki.PostgresServerSecret, pki.DBClientSecret("migrator")} {
		require.NoError(t, verify(t, b.dir, leaf, pki.PostgresCA, x509.ExtKeyUsageAny, now), "%s is signed by the new CA", leaf)
	}
}

func TestEnsureReissuesWhenCAFileReplaced(t *testing.T) {
	t.Parallel()

	t.Run("CASecretReplaced", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Someone restores postgres-ca from another machine: a valid CA with
		// the right name but a different key.
		other := filepath.Join(t.TempDir(), "other")
		_, err := pki.Ensure(other, pki.PostgresTree(), at(t0))
		require.NoError(t, err)
		for _, f := range []string{pki.CertFile, pki.KeyFile, pki.CAFile} {
			data, err := os.ReadFile(filepath.Join(other, pki.PostgresCA, f))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(b.dir, pki.PostgresCA, f), data, 0o600))
		}

		rep, err := pki.Ensure(b.dir, b.spec, at(t0.Add(time.Hour)))
		require.NoError(t, err)
		require.Equal(t, []string{pki.PostgresServerSecret, pki.DBClientSecret("migrator"), pki.DBClientSecret("server")}, rep.Issued,
			"the replaced CA is valid and kept; every leaf it did not sign is reissued, the other service's are not")
		for _, leaf := range rep.Issued {
			require.NoError(t, verify(t, b.dir, leaf, pki.PostgresCA, x509.ExtKeyUsageAny, t0.Add(time.Hour)))
		}
	})

	t.Run("LeafCAFileTamperedWith", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := pki.SecretPaths(b.dir, pki.DBClientSecret("server"))
		wrongCA, err := os.ReadFile(pki.SecretPaths(b.dir, "server-ca").Cert)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p.CA, wrongCA, 0o644))

		rep, err := pki.Ensure(b.dir, b.spec, at(t0.Add(time.Hour)))
		require.NoError(t, err)
		require.Equal(t, []string{pki.DBClientSecret("server")}, rep.Issued)
		got, err := os.ReadFile(p.CA)
		require.NoError(t, err)
		want, err := os.ReadFile(pki.SecretPaths(b.dir, pki.PostgresCA).Cert)
		require.NoError(t, err)
		require.Equal(t, want, got)
	})

	t.Run("CACertCorrupted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, os.WriteFile(pki.SecretPaths(b.dir, "server-ca").Cert, []byte("not a certificate"), 0o644))
		rep, err := pki.Ensure(b.dir, b.spec, at(t0.Add(time.Hour)))
		require.NoError(t, err)
		require.Equal(t, []string{"server-ca", "server-tls"}, rep.Issued)
		require.NoError(t, verify(t, b.dir, "server-tls", "server-ca", x509.ExtKeyUsageServerAuth, t0.Add(time.Hour)))
	})
}

func TestEnsureReissuesBrokenLeaves(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(t *testing.T, p pki.Paths)
	}{
		{"CertMissing", func(t *testing.T, p pki.Paths) { require.NoError(t, os.Remove(p.Cert)) }},
		{"KeyMissing", func(t *testing.T, p pki.Paths) { require.NoError(t, os.Remove(p.Key)) }},
		{"CAMissing", func(t *testing.T, p pki.Paths) { require.NoError(t, os.Remove(p.CA)) }},
		{"CertGarbage", func(t *testing.T, p pki.Paths) { require.NoError(t, os.WriteFile(p.Cert, []byte("garbage"), 0o644)) }},
		{"KeyGarbage", func(t *testing.T, p pki.Paths) { require.NoError(t, os.WriteFile(p.Key, []byte("garbage"), 0o600)) }},
		{"KeyOfAnotherCert", func(t *testing.T, p pki.Paths) {
			other, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(p.Key)), pki.DBClientSecret("migrator"), pki.KeyFile))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p.Key, other, 0o600))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			p := pki.SecretPaths(b.dir, pki.DBClientSecret("server"))
			tt.damage(t, p)

			rep, err := pki.Ensure(b.dir, b.spec, at(t0.Add(time.Hour)))
			require.NoError(t, err)
			require.Equal(t, []string{pki.DBClientSecret("server")}, rep.Issued)
			require.True(t, readKey(t, p.Key).PublicKey.Equal(readCert(t, p.Cert).PublicKey))
			require.NoError(t, verify(t, b.dir, pki.DBClientSecret("server"), pki.PostgresCA, x509.ExtKeyUsageClientAuth, t0.Add(time.Hour)))
		})
	}
}

func TestEnsureReissuesLeafWhoseSpecChanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(l *pki.Leaf)
		check  func(t *testing.T, c *x509.Certificate)
	}{
		{"DNSNameAdded", func(l *pki.Leaf) { l.DNSNames = append(l.DNSNames, "server.example.com") }, func(t *testing.T, c *x509.Certificate) {
			require.Contains(t, c.DNSNames, "server.example.com")
		}},
		{"IPChanged", func(l *pki.Leaf) { l.IPs = []net.IP{net.ParseIP("::1")} }, func(t *testing.T, c *x509.Certificate) {
			require.Len(t, c.IPAddresses, 1)
			require.True(t, c.IPAddresses[0].Equal(net.ParseIP("::1")))
		}},
		{"CommonNameChanged", func(l *pki.Leaf) { l.CommonName = "api" }, func(t *testing.T, c *x509.Certificate) {
			require.Equal(t, "api", c.Subject.CommonName)
		}},
		{"GroupsChanged", func(l *pki.Leaf) { l.Organizations = []string{"system:masters"} }, func(t *testing.T, c *x509.Certificate) {
			require.Equal(t, []string{"system:masters"}, c.Subject.Organization)
		}},
		{"UsageNarrowed", func(l *pki.Leaf) { l.Usage = pki.ServerAuth }, func(t *testing.T, c *x509.Certificate) {
			require.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, c.ExtKeyUsage)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			spec := twoServices()
			last := &spec.Leaves[len(spec.Leaves)-1]
			require.Equal(t, "server-tls", last.Secret)
			tt.change(last)

			rep, err := pki.Ensure(b.dir, spec, at(t0.Add(time.Hour)))
			require.NoError(t, err)
			require.Equal(t, []string{"server-tls"}, rep.Issued, "only the changed leaf is reissued")
			tt.check(t, readCert(t, pki.SecretPaths(b.dir, "server-tls").Cert))

			rep, err = pki.Ensure(b.dir, spec, at(t0.Add(time.Hour)))
			require.NoError(t, err)
			require.Empty(t, rep.Issued)
		})
	}
}

func TestEnsureLeafNeverOutlivesItsCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := pki.Options{CAValidity: 10 * 24 * time.Hour, LeafValidity: 30 * 24 * time.Hour, Now: func() time.Time { return t0 }}
	_, err := pki.Ensure(dir, pki.PostgresTree("server"), opts)
	require.NoError(t, err)
	ca := readCert(t, pki.SecretPaths(dir, pki.PostgresCA).Cert)
	leaf := readCert(t, pki.SecretPaths(dir, pki.DBClientSecret("server")).Cert)
	require.Equal(t, ca.NotAfter, leaf.NotAfter)

	rep, err := pki.Ensure(dir, pki.PostgresTree("server"), opts)
	require.NoError(t, err)
	require.Empty(t, rep.Issued)
}

func TestEnsureIssuesAfterClockWentBack(t *testing.T) {
	t.Parallel()
	// Certificates not yet valid (issued by a clock running ahead) are
	// reissued, not kept until they start to be valid.
	b := setup(t)
	rep, err := pki.Ensure(b.dir, b.spec, at(t0.Add(-24*time.Hour)))
	require.NoError(t, err)
	require.Len(t, rep.Issued, len(b.spec.CAs)+len(b.spec.Leaves))
	require.NoError(t, verify(t, b.dir, pki.DBClientSecret("server"), pki.PostgresCA, x509.ExtKeyUsageClientAuth, t0.Add(-24*time.Hour)))
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	leaf := func(mod func(*pki.Leaf)) pki.Spec {
		s := pki.PostgresTree("server")
		mod(&s.Leaves[1])
		return s
	}
	tests := []struct {
		name string
		spec pki.Spec
		want string
	}{
		{"UnknownCA", leaf(func(l *pki.Leaf) { l.CA = "nope-ca" }), `pki spec: leaf "db-server-tls" names unknown CA "nope-ca"`},
		{"DuplicateLeaf", pki.Merge(pki.PostgresTree("server"), pki.Spec{Leaves: []pki.Leaf{{Secret: "db-server-tls", CA: pki.PostgresCA, CommonName: "x", Usage: pki.ClientAuth}}}),
			`pki spec: secret "db-server-tls" declared twice`},
		{"DuplicateCA", pki.Merge(pki.PostgresTree(), pki.PostgresTree()), `pki spec: secret "postgres-ca" declared twice`},
		{"LeafNamedLikeCA", leaf(func(l *pki.Leaf) { l.Secret = pki.PostgresCA }), `pki spec: secret "postgres-ca" declared twice`},
		{"EmptyCAName", pki.Spec{CAs: []string{""}}, `pki spec: CA name "" must be a plain directory name`},
		{"CANameWithSlash", pki.Spec{CAs: []string{"a/b"}}, `pki spec: CA name "a/b" must be a plain directory name`},
		{"CANameDotDot", pki.Spec{CAs: []string{".."}}, `pki spec: CA name ".." must be a plain directory name`},
		{"LeafNameEscapes", leaf(func(l *pki.Leaf) { l.Secret = "../x" }), `pki spec: leaf secret "../x" must be a plain directory name`},
		{"LeafNameDot", leaf(func(l *pki.Leaf) { l.Secret = "." }), `pki spec: leaf secret "." must be a plain directory name`},
		{"EmptyLeafName", leaf(func(l *pki.Leaf) { l.Secret = "" }), `pki spec: leaf secret "" must be a plain directory name`},
		{"NoCommonName", leaf(func(l *pki.Leaf) { l.CommonName = "" }), `pki spec: leaf "db-server-tls" has no common name`},
		{"NoUsage", leaf(func(l *pki.Leaf) { l.Usage = 0 }), `pki spec: leaf "db-server-tls" has no usage`},
		{"UnknownUsageOnly", leaf(func(l *pki.Leaf) { l.Usage = 1 << 5 }), `pki spec: leaf "db-server-tls" has no usage`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.EqualError(t, tt.spec.Validate(), tt.want)

			// Ensure refuses the spec before touching the disk.
			dir := filepath.Join(t.TempDir(), "pki")
			rep, err := pki.Ensure(dir, tt.spec, pki.Options{})
			require.EqualError(t, err, tt.want)
			require.False(t, rep.Changed())
			require.NoDirExists(t, dir)
		})
	}

	require.NoError(t, twoServices().Validate())
	require.NoError(t, pki.Spec{}.Validate())
}

func TestEnsureInvalidSpecLeavesExistingTreeAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before := snapshot(t, b.dir)
	spec := twoServices()
	spec.Leaves[0].Usage = 0
	_, err := pki.Ensure(b.dir, spec, at(t0.Add(300*24*time.Hour)))
	require.ErrorContains(t, err, "has no usage")
	require.Equal(t, before, snapshot(t, b.dir))
}

func TestEnsureUnwritableDirectory(t *testing.T) {
	t.Parallel()
	// A file where the directory should be: a clear error, nothing issued.
	path := filepath.Join(t.TempDir(), "pki")
	require.NoError(t, os.WriteFile(path, []byte("x"), 0o600))
	rep, err := pki.Ensure(path, pki.PostgresTree("server"), pki.Options{})
	require.ErrorContains(t, err, "create certificate directory")
	require.ErrorIs(t, err, syscall.ENOTDIR)
	require.False(t, rep.Changed())
}

func TestParseCertificatePEM(t *testing.T) {
	t.Parallel()
	b := setup(t)
	keyPEM, err := os.ReadFile(pki.SecretPaths(b.dir, pki.PostgresCA).Key)
	require.NoError(t, err)

	for name, in := range map[string][]byte{"Empty": nil, "Garbage": []byte("hello"), "PrivateKey": keyPEM} {
		_, err := pki.ParseCertificatePEM(in)
		require.EqualError(t, err, "no PEM certificate found", name)
	}
	_, err = pki.ParseCertificatePEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}))
	require.ErrorContains(t, err, "x509", "a PEM block that is not DER says so")
}

func TestTree(t *testing.T) {
	t.Parallel()
	require.Equal(t, "db-migrator-tls", pki.DBClientSecret("migrator"))

	s := pki.PostgresTree("migrator", "server", "kratos")
	require.NoError(t, s.Validate())
	require.Equal(t, []string{pki.PostgresCA}, s.CAs)
	require.Len(t, s.Leaves, 4)
	for _, l := range s.Leaves[1:] {
		require.Equal(t, pki.ClientAuth, l.Usage)
		require.Equal(t, pki.DBClientSecret(l.CommonName), l.Secret)
	}

	m := pki.Merge(pki.PostgresTree("a"), pki.Spec{CAs: []string{"x-ca"}})
	require.Equal(t, []string{pki.PostgresCA, "x-ca"}, m.CAs)
	require.Len(t, m.Leaves, 2)
}
