// Package pki issues the local certificate tree that mirrors the cluster's
// cert-manager design.
//
// In the cluster a SelfSigned ClusterIssuer issues one CA Certificate per
// service (postgres-ca, server-ca, ...). A SelfSigned issuer has no key of its
// own: every certificate it issues is signed by that certificate's own key, so
// each service CA is an independent trust anchor. Each CA then backs a CA
// ClusterIssuer that signs the leaf certificates of the workloads.
//
// Locally, Ensure produces the same shape on disk, one directory per
// cert-manager Secret, holding the same three files a cert-manager Secret
// holds:
//
//	<dir>/<secret>/tls.crt   certificate (PEM)
//	<dir>/<secret>/tls.key   private key (PKCS#8 PEM, mode 0600)
//	<dir>/<secret>/ca.crt    the issuing CA's certificate (the trust anchor)
//
// Because the service CAs do not share a root, a certificate issued by one
// service's CA is never accepted by a peer that trusts another's: a gRPC
// client certificate cannot log in to PostgreSQL even if its CN names a role.
//
// Ensure is idempotent: it leaves valid files alone and reissues a
// certificate that is missing, unreadable, no longer matches its spec, was
// not signed by the current CA, or has less than a third of its life left.
// Keys are ECDSA P-256.
package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Usage says what a leaf certificate may be used for.
type Usage int

const (
	// ServerAuth marks a certificate presented by a TLS server.
	ServerAuth Usage = 1 << iota
	// ClientAuth marks a certificate presented by a TLS client.
	ClientAuth
)

// Leaf describes one workload certificate, stored as Secret <Secret> and
// signed by the CA named CA.
type Leaf struct {
	Secret     string   // directory name; the cert-manager Secret name in the cluster
	CA         string   // name of the issuing CA (one of Spec.CAs)
	CommonName string   // for database clients: the PostgreSQL role
	DNSNames   []string // subject alternative names
	IPs        []net.IP // subject alternative IP addresses
	// Organizations of the subject: Kubernetes reads them as the groups of
	// a client certificate's user (system:masters, ...). Empty: groundwork.
	Organizations []string
	Usage         Usage
}

func (l Leaf) organizations() []string {
	if len(l.Organizations) == 0 {
		return []string{"groundwork"}
	}
	return l.Organizations
}

// Spec is the whole certificate tree.
type Spec struct {
	CAs    []string // one self-signed CA per service, stored as Secret <name>
	Leaves []Leaf
}

// Options tune validity and injection points for tests.
type Options struct {
	CAValidity   time.Duration    // default one year
	LeafValidity time.Duration    // default 30 days: short-lived, renewed by Ensure
	Now          func() time.Time // default time.Now
}

// Report lists the Secrets that Ensure (re)issued.
type Report struct {
	Issued []string
}

// Changed reports whether any certificate was (re)issued.
func (r Report) Changed() bool { return len(r.Issued) > 0 }

// File names inside a Secret directory, as cert-manager names the keys of a
// TLS Secret.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
	CAFile   = "ca.crt"
)

// Paths of one Secret's files.
type Paths struct{ Cert, Key, CA string }

// SecretPaths returns where the files of the named Secret live under dir.
func SecretPaths(dir, secret string) Paths {
	d := filepath.Join(dir, secret)
	return Paths{Cert: filepath.Join(d, CertFile), Key: filepath.Join(d, KeyFile), CA: filepath.Join(d, CAFile)}
}

func (o Options) withDefaults() Options {
	if o.CAValidity == 0 {
		o.CAValidity = 365 * 24 * time.Hour
	}
	if o.LeafValidity == 0 {
		o.LeafValidity = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports the first inconsistency in the spec.
func (s Spec) Validate() error {
	seen := map[string]bool{}
	for _, ca := range s.CAs {
		if !plainName(ca) {
			return fmt.Errorf("pki spec: CA name %q must be a plain directory name", ca)
		}
		if seen[ca] {
			return fmt.Errorf("pki spec: secret %q declared twice", ca)
		}
		seen[ca] = true
	}
	for _, l := range s.Leaves {
		if !plainName(l.Secret) {
			return fmt.Errorf("pki spec: leaf secret %q must be a plain directory name", l.Secret)
		}
		if seen[l.Secret] {
			return fmt.Errorf("pki spec: secret %q declared twice", l.Secret)
		}
		seen[l.Secret] = true
		if !slices.Contains(s.CAs, l.CA) {
			return fmt.Errorf("pki spec: leaf %q names unknown CA %q", l.Secret, l.CA)
		}
		if l.CommonName == "" {
			return fmt.Errorf("pki spec: leaf %q has no common name", l.Secret)
		}
		if l.Usage&(ServerAuth|ClientAuth) == 0 {
			return fmt.Errorf("pki spec: leaf %q has no usage", l.Secret)
		}
	}
	return nil
}

// plainName reports whether name is usable as one directory under the
// certificate directory: not empty, no separator, and not "." or "..",
// which would put the Secret's files into the directory itself or its parent.
func plainName(name string) bool {
	return name != "" && name != "." && name != ".." && filepath.Base(name) == name
}

// Ensure makes the tree under dir match spec, issuing only what is needed.
func Ensure(dir string, spec Spec, opts Options) (Report, error) {
	opts = opts.withDefaults()
	var rep Report
	if err := spec.Validate(); err != nil {
		return rep, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return rep, fmt.Errorf("create certificate directory: %w", err)
	}
	cas := make(map[string]*issuer, len(spec.CAs))
	for _, name := range spec.CAs {
		ca, issued, err := ensureCA(dir, name, opts)
		if err != nil {
			return rep, err
		}
		if issued {
			rep.Issued = append(rep.Issued, name)
		}
		cas[name] = ca
	}
	for _, leaf := range spec.Leaves {
		issued, err := ensureLeaf(dir, leaf, cas[leaf.CA], opts)
		if err != nil {
			return rep, err
		}
		if issued {
			rep.Issued = append(rep.Issued, leaf.Secret)
		}
	}
	return rep, nil
}

type issuer struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

func ensureCA(dir, name string, opts Options) (*issuer, bool, error) {
	p := SecretPaths(dir, name)
	if ca, err := loadIssuer(p); err == nil && ca.cert.IsCA && ca.cert.Subject.CommonName == name &&
		ca.cert.CheckSignatureFrom(ca.cert) == nil && fresh(ca.cert, opts.Now()) {
		return ca, false, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("generate key for CA %s: %w", name, err)
	}
	now := opts.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"groundwork"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(opts.CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// The CA signs leaves only, never another CA.
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, false, fmt.Errorf("sign CA %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, false, fmt.Errorf("parse new CA %s: %w", name, err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeSecret(p, certPEM, key, certPEM); err != nil {
		return nil, false, fmt.Errorf("write CA %s: %w", name, err)
	}
	return &issuer{cert: cert, certPEM: certPEM, key: key}, true, nil
}

func ensureLeaf(dir string, l Leaf, ca *issuer, opts Options) (bool, error) {
	p := SecretPaths(dir, l.Secret)
	if cur, err := loadIssuer(p); err == nil && leafMatches(cur.cert, l) &&
		cur.cert.CheckSignatureFrom(ca.cert) == nil && fresh(cur.cert, opts.Now()) &&
		caFileIs(p.CA, ca.certPEM) {
		return false, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, fmt.Errorf("generate key for %s: %w", l.Secret, err)
	}
	now := opts.Now()
	notAfter := now.Add(opts.LeafValidity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: l.CommonName, Organization: l.organizations()},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     l.DNSNames,
		IPAddresses:  l.IPs,
	}
	if l.Usage&ServerAuth != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if l.Usage&ClientAuth != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return false, fmt.Errorf("sign %s with %s: %w", l.Secret, l.CA, err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeSecret(p, certPEM, key, ca.certPEM); err != nil {
		return false, fmt.Errorf("write %s: %w", l.Secret, err)
	}
	return true, nil
}

// fresh reports whether more than a third of the certificate's life is left,
// the point at which cert-manager renews by default.
func fresh(c *x509.Certificate, now time.Time) bool {
	life := c.NotAfter.Sub(c.NotBefore)
	return now.After(c.NotBefore) && c.NotAfter.Sub(now) > life/3
}

func leafMatches(c *x509.Certificate, l Leaf) bool {
	if c.IsCA || c.Subject.CommonName != l.CommonName || !slices.Equal(c.DNSNames, l.DNSNames) ||
		!slices.Equal(c.Subject.Organization, l.organizations()) {
		return false
	}
	if len(c.IPAddresses) != len(l.IPs) {
		return false
	}
	for i := range l.IPs {
		if !c.IPAddresses[i].Equal(l.IPs[i]) {
			return false
		}
	}
	want := []x509.ExtKeyUsage{}
	if l.Usage&ServerAuth != 0 {
		want = append(want, x509.ExtKeyUsageServerAuth)
	}
	if l.Usage&ClientAuth != 0 {
		want = append(want, x509.ExtKeyUsageClientAuth)
	}
	return slices.Equal(c.ExtKeyUsage, want)
}

func caFileIs(path string, want []byte) bool {
	got, err := os.ReadFile(path)
	return err == nil && bytes.Equal(got, want)
}

func loadIssuer(p Paths) (*issuer, error) {
	certPEM, err := os.ReadFile(p.Cert)
	if err != nil {
		return nil, err
	}
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(p.Key)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("no PEM block in key file")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("key does not match certificate")
	}
	return &issuer{cert: cert, certPEM: certPEM, key: key}, nil
}

// ParseCertificatePEM parses the first certificate in a PEM file.
func ParseCertificatePEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate found")
	}
	return x509.ParseCertificate(block.Bytes)
}

// writeSecret writes the three files of a Secret. Each file is written to a
// temporary name and renamed, so a reader never sees half a file; the key is
// written last-but-one and the certificate last, so a reader that checks the
// certificate sees a matching key.
func writeSecret(p Paths, certPEM []byte, key *ecdsa.PrivateKey, caPEM []byte) error {
	if err := os.MkdirAll(filepath.Dir(p.Cert), 0o700); err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := writeAtomic(p.CA, caPEM, 0o644); err != nil {
		return err
	}
	if err := writeAtomic(p.Key, keyPEM, 0o600); err != nil {
		return err
	}
	return writeAtomic(p.Cert, certPEM, 0o644)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS entropy source is gone
	}
	return n
}
