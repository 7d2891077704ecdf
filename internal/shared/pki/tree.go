package pki

import "net"

// Names of the Secrets that the local stack, the test clusters and the
// Kubernetes manifests share. Keep them in step with k8s/.
const (
	// PostgresCA signs the PostgreSQL server certificate and the database
	// client certificates; PostgreSQL trusts only this CA for client auth.
	PostgresCA = "postgres-ca"
	// PostgresServerSecret is PostgreSQL's own serving certificate.
	PostgresServerSecret = "postgres-server-tls" //nolint:gosec // G101: a Secret's name, not a credential
)

// DBClientSecret names the Secret holding the client certificate of a
// PostgreSQL role; its CN is the role.
func DBClientSecret(role string) string { return "db-" + role + "-tls" }

// PostgresTree returns the CA and leaves for a PostgreSQL server reachable on
// localhost and one client certificate per role.
func PostgresTree(roles ...string) Spec {
	s := Spec{CAs: []string{PostgresCA}}
	s.Leaves = append(s.Leaves, Leaf{
		Secret:     PostgresServerSecret,
		CA:         PostgresCA,
		CommonName: "postgres",
		DNSNames:   []string{"localhost"},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1).To4()},
		Usage:      ServerAuth,
	})
	for _, r := range roles {
		s.Leaves = append(s.Leaves, Leaf{Secret: DBClientSecret(r), CA: PostgresCA, CommonName: r, Usage: ClientAuth})
	}
	return s
}

// Names of the server's Secrets (gRPC mutual TLS).
const (
	// ServerCA signs the gRPC server's certificate and its clients'; the
	// server accepts client certificates from this CA only.
	ServerCA = "server-ca"
	// ServerGRPCSecret is the gRPC server's serving certificate.
	ServerGRPCSecret = "server-grpc-tls" //nolint:gosec // G101: a Secret's name, not a credential
	// GatewayClientSecret is the client certificate the HTTP/JSON gateway
	// presents when it dials the gRPC server.
	GatewayClientSecret = "server-gateway-tls" //nolint:gosec // G101: a Secret's name
	// DevClientSecret is a client certificate for developers' tools
	// (grpcurl, tests against the local stack).
	DevClientSecret = "server-dev-client-tls" //nolint:gosec // G101: a Secret's name
)

// ServerTree returns the gRPC mutual-TLS tree: server-ca, the server's
// certificate for localhost, and the gateway's and developers' client
// certificates.
func ServerTree() Spec {
	return Spec{
		CAs: []string{ServerCA},
		Leaves: []Leaf{
			{Secret: ServerGRPCSecret, CA: ServerCA, CommonName: "server", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1).To4()}, Usage: ServerAuth},
			{Secret: GatewayClientSecret, CA: ServerCA, CommonName: "gateway", Usage: ClientAuth},
			{Secret: DevClientSecret, CA: ServerCA, CommonName: "developer", Usage: ClientAuth},
		},
	}
}

// Merge joins several specs into one.
func Merge(specs ...Spec) Spec {
	var out Spec
	for _, s := range specs {
		out.CAs = append(out.CAs, s.CAs...)
		out.Leaves = append(out.Leaves, s.Leaves...)
	}
	return out
}
