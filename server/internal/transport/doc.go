// Package transport is the server's network edge: the gRPC server (TLS 1.3,
// client certificates required) with its interceptor chain and health
// service, and the HTTP/JSON gateway that dials that server over mTLS, so
// that every JSON request passes the same interceptors as a native call.
//
// The interceptor chain, outermost first, for unary and streaming RPCs:
//
//	recovery      a panic anywhere below becomes INTERNAL, logged once with its stack
//	logging       one slog line per RPC: method, code, duration, peer, user
//	metrics       Prometheus grpc_server_* with handling-time histograms
//	deadline      unary RPCs without a deadline get the configured default
//	auth          every method except Health and server reflection needs an
//	              authenticated caller (Authenticator); the user goes into the
//	              context (package identity)
//	validation    requests with a Validate() error method are validated
//	recovery      around the handler, so logging and metrics see INTERNAL
//
// The contract between the auth interceptor and an Authenticator is on the
// Authenticator type; docs/server.md has the whole picture.
package transport
