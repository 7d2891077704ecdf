// Package example is a small app wired by messengergen: its routing.yaml
// declares two API handlers, two middlewares and a repository, and the
// generated packages messenger (all handlers) and testaccount (one API and
// the repository) route between them. Its tests compile and exercise the
// generated code and compare its dispatch with hand-written calls.
package example

//go:generate go run ../../cmd/messengergen -spec routing.yaml -graph
