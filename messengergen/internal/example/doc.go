// Package example is a small app wired by messengergen: its routing.yaml
// declares two API handlers, two middlewares and a repository, and the
// generated packages messenger (all handlers, dispatch: direct), testaccount
// (one API and the repository) and testadmin (the admin API's chain), both
// with interface dispatch, route between them. Its tests compile and
// exercise the generated code, with the real handlers and with fakes, and
// compare both dispatch modes with hand-written calls (nopchain holds the
// empty handlers for that).
package example

//go:generate go run ../../cmd/messengergen -spec routing.yaml -graph
