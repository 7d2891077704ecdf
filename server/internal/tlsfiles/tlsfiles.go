// Package tlsfiles serves TLS key pairs and CA bundles from files that are
// replaced while the process runs, as cert-manager does with the Secrets it
// renews: a new handshake or a new database connection uses the files as
// they are on disk now, without a restart.
//
// A source checks the files' size, modification time and identity (inode)
// at most once per Options.Interval (one second by default), on the first
// use after the interval has passed, and re-reads them only when one
// changed. A read that fails — a file missing for a moment, a certificate
// whose key has not been written yet, garbage — keeps the last good value
// and is logged once; the next check tries again. Loading at construction
// must succeed, so a source always has a good value.
//
// The callbacks fit crypto/tls directly:
//
//	kp, err := tlsfiles.LoadKeyPair(certFile, keyFile, tlsfiles.Options{Logger: log})
//	cas, err := tlsfiles.LoadCAPool(caFile, tlsfiles.Options{Logger: log})
//	server := &tls.Config{GetCertificate: kp.GetCertificate,
//		GetConfigForClient: ...} // a config per handshake with ClientCAs: cas.Pool()
//	client := &tls.Config{GetClientCertificate: kp.GetClientCertificate,
//		InsecureSkipVerify: true, VerifyConnection: cas.VerifyServer(name)}
package tlsfiles

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultInterval is how often, at most, a source looks at its files.
const DefaultInterval = time.Second

// Options tune a source. The zero value is ready to use.
type Options struct {
	// Interval is the least time between two looks at the files; 0 means
	// DefaultInterval.
	Interval time.Duration
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
	// Logger receives one line per reload and per failed reload; nil
	// discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// KeyPair is a certificate and its private key, reloaded from two files.
type KeyPair struct {
	src *source[*tls.Certificate]
}

// LoadKeyPair reads a PEM certificate (chain) and its PEM private key.
func LoadKeyPair(certFile, keyFile string, opts Options) (*KeyPair, error) {
	src, err := newSource([]string{certFile, keyFile}, "key pair", opts, func(b [][]byte) (*tls.Certificate, error) {
		c, err := tls.X509KeyPair(b[0], b[1])
		if err != nil {
			return nil, fmt.Errorf("certificate %s with key %s: %w", certFile, keyFile, err)
		}
		return &c, nil
	})
	if err != nil {
		return nil, err
	}
	return &KeyPair{src: src}, nil
}

// Certificate returns the current key pair; its Leaf is set.
func (k *KeyPair) Certificate() *tls.Certificate { return k.src.get() }

// GetCertificate is a tls.Config.GetCertificate for servers.
func (k *KeyPair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.src.get(), nil
}

// GetClientCertificate is a tls.Config.GetClientCertificate for clients.
func (k *KeyPair) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return k.src.get(), nil
}

// CAPool is a bundle of trusted CA certificates, reloaded from one file.
type CAPool struct {
	src *source[*x509.CertPool]
}

// LoadCAPool reads a PEM file of one or more CA certificates.
func LoadCAPool(file string, opts Options) (*CAPool, error) {
	src, err := newSource([]string{file}, "CA bundle", opts, func(b [][]byte) (*x509.CertPool, error) {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b[0]) {
			return nil, fmt.Errorf("CA bundle %s: no PEM certificate in it", file)
		}
		return pool, nil
	})
	if err != nil {
		return nil, err
	}
	return &CAPool{src: src}, nil
}

// Pool returns the current pool. Callers must not modify it.
func (c *CAPool) Pool() *x509.CertPool { return c.src.get() }

// VerifyServer verifies a server's certificate chain against the current
// pool for serverName, as crypto/tls does with a static RootCAs. It is the
// tls.Config.VerifyConnection of a client that sets InsecureSkipVerify
// only to be able to use a pool that changes (crypto/tls has no per
// handshake RootCAs callback for clients).
func (c *CAPool) VerifyServer(serverName string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if serverName == "" {
			return errors.New("tls: no server name to verify the server certificate against")
		}
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: the server sent no certificate")
		}
		opts := x509.VerifyOptions{
			Roots:         c.Pool(),
			DNSName:       serverName,
			Intermediates: x509.NewCertPool(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		for _, ic := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return fmt.Errorf("tls: verify server certificate: %w", err)
		}
		return nil
	}
}

// source is a value parsed from files, re-read when they change.
type source[T any] struct {
	files []string
	what  string
	parse func([][]byte) (T, error)
	opts  Options

	mu      sync.Mutex
	cur     T
	stamps  []os.FileInfo // of the files cur was read from
	checked time.Time     // last look at the files
	// The last failed reload, to log each failure once.
	failedStamps []os.FileInfo
	failedMsg    string
}

func newSource[T any](files []string, what string, opts Options, parse func([][]byte) (T, error)) (*source[T], error) {
	s := &source[T]{files: files, what: what, parse: parse, opts: opts.withDefaults()}
	stamps, err := s.stat()
	if err != nil {
		return nil, err
	}
	v, err := s.read()
	if err != nil {
		return nil, err
	}
	s.cur, s.stamps, s.checked = v, stamps, s.opts.Now()
	return s, nil
}

// get returns the current value, first reloading it if the interval has
// passed and the files changed.
func (s *source[T]) get() T {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	if d := now.Sub(s.checked); d >= 0 && d < s.opts.Interval {
		return s.cur
	}
	s.checked = now
	// Stat before reading: if a file changes after the stat, the next check
	// sees a difference and reads again.
	stamps, err := s.stat()
	if err == nil && same(stamps, s.stamps) {
		return s.cur
	}
	var v T
	if err == nil {
		v, err = s.read()
	}
	if err != nil {
		if err.Error() != s.failedMsg || !same(stamps, s.failedStamps) {
			s.opts.Logger.Warn("tlsfiles: reload failed, keeping the previous "+s.what, "files", s.files, "error", err)
		}
		s.failedStamps, s.failedMsg = stamps, err.Error()
		return s.cur
	}
	s.cur, s.stamps, s.failedStamps, s.failedMsg = v, stamps, nil, ""
	s.opts.Logger.Info("tlsfiles: reloaded "+s.what, "files", s.files)
	return s.cur
}

func (s *source[T]) stat() ([]os.FileInfo, error) {
	out := make([]os.FileInfo, len(s.files))
	for i, f := range s.files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.what, err)
		}
		out[i] = fi
	}
	return out, nil
}

func (s *source[T]) read() (T, error) {
	var zero T
	contents := make([][]byte, len(s.files))
	for i, f := range s.files {
		b, err := os.ReadFile(f)
		if err != nil {
			return zero, fmt.Errorf("%s: %w", s.what, err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return zero, fmt.Errorf("%s: %s is empty", s.what, f)
		}
		contents[i] = b
	}
	return s.parse(contents)
}

// same reports whether two stats describe the same file contents, as far as
// size, modification time and identity tell.
func same(a, b []os.FileInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()) || !os.SameFile(a[i], b[i]) {
			return false
		}
	}
	return true
}
