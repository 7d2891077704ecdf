package controlplane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"github.com/groundwork-dev/groundwork/internal/shared/pki"
)

// The Secrets (directories under <Dir>/pki) of the control plane's
// certificates. Every identity is a client certificate, as kubeadm sets a
// cluster up: no token or password file.
const (
	kubeCA = "kube-ca" // the cluster CA: the API server's serving and client certificates
	etcdCA = "etcd-ca" // etcd trusts only this CA: only the API server talks to it

	apiServerTLS  = "kube-apiserver-tls"
	componentsTLS = "kube-components-tls" // the controller manager's and scheduler's /healthz on loopback
	adminTLS      = "kube-admin-tls"
	kcmTLS        = "kube-controller-manager-client-tls"
	schedulerTLS  = "kube-scheduler-client-tls"
	kwokTLS       = "kwok-client-tls"
	etcdServerTLS = "etcd-server-tls"
	etcdClientTLS = "etcd-apiserver-client-tls"
)

// AdminUser is the kubeconfig's user: in system:masters, like kubeadm's
// admin.conf.
const AdminUser = "groundwork-admin"

// serviceIP is the kubernetes Service's address in ServiceCIDR, which the
// serving certificate names.
var serviceIP = net.IPv4(10, 96, 0, 1).To4()

// ServiceCIDR is the range Services get their cluster IPs from.
const ServiceCIDR = "10.96.0.0/16"

func certTree() pki.Spec {
	loopback := []net.IP{net.IPv4(127, 0, 0, 1).To4()}
	return pki.Spec{
		CAs: []string{kubeCA, etcdCA},
		Leaves: []pki.Leaf{
			{Secret: apiServerTLS, CA: kubeCA, CommonName: "kube-apiserver", Usage: pki.ServerAuth,
				DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
				IPs:      []net.IP{loopback[0], serviceIP}},
			{Secret: componentsTLS, CA: kubeCA, CommonName: "kube-components", Usage: pki.ServerAuth,
				DNSNames: []string{"localhost"}, IPs: loopback},
			{Secret: adminTLS, CA: kubeCA, CommonName: AdminUser, Organizations: []string{"system:masters"}, Usage: pki.ClientAuth},
			// The built-in RBAC roles of these two users ship with the API
			// server (system:kube-controller-manager, system:kube-scheduler).
			{Secret: kcmTLS, CA: kubeCA, CommonName: "system:kube-controller-manager", Usage: pki.ClientAuth},
			{Secret: schedulerTLS, CA: kubeCA, CommonName: "system:kube-scheduler", Usage: pki.ClientAuth},
			// kwok's rights are the ClusterRole in rbac.go.
			{Secret: kwokTLS, CA: kubeCA, CommonName: kwokUser, Usage: pki.ClientAuth},
			{Secret: etcdServerTLS, CA: etcdCA, CommonName: "etcd", Usage: pki.ServerAuth,
				DNSNames: []string{"localhost"}, IPs: loopback},
			{Secret: etcdClientTLS, CA: etcdCA, CommonName: "kube-apiserver", Usage: pki.ClientAuth},
		},
	}
}

// serviceAccountKey writes the key pair that signs service account tokens
// once (tokens stay valid across restarts), as PKCS#8 and PKIX PEM.
func serviceAccountKey(private, public string) error {
	if _, err := os.Stat(public); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate the service account signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(private, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	// Written last: its presence says the pair is complete.
	return os.WriteFile(public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}

// kubeconfig is a kubeconfig for one client certificate, by file path (the
// files are renewed in place).
func kubeconfig(context, server string, ca string, client pki.Paths) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority: %[3]q
users:
- name: %[1]s
  user:
    client-certificate: %[4]q
    client-key: %[5]q
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[1]s
current-context: %[1]s
`, context, server, ca, client.Cert, client.Key)
}
