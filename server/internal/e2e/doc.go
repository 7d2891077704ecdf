// Package e2e holds the server's end-to-end tests; it has no code of its
// own.
//
// The tests run the real `server serve` (cli.Run, in-process, on free
// ports) against real dependencies: a migrated PostgreSQL database from
// migrator/pgtest reached as the server role with its client certificate,
// a real Ory Kratos from kratostest, and the certificate tree of
// tlsfilestest. They then act as clients do: sign up and in through Kratos's
// API and browser flows, and call every RPC over gRPC (mTLS, session token
// or Bearer) and over the HTTP/JSON gateway (X-Session-Token, Bearer, or the
// browser's session cookie with the CSRF rules), asserting the answers and
// the rows in PostgreSQL. Tests of background work also run the real
// `server worker` on the same database (exports_test.go: exports end to end,
// the periodic user reconciliation) and River UI on serve's ops port.
//
//	cd server && go test ./internal/e2e/
package e2e
