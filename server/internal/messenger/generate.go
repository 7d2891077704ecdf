//go:generate go run github.com/groundwork-dev/groundwork/messengergen/cmd/messengergen -spec ../../routing.yaml -graph

// The package comment is the generated one, in messenger.go, which the
// linter skips as generated code.

package messenger //nolint:revive // package-comments: see above
