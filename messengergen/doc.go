// Package messengergen generates messengers: Go code that passes a message
// from a source (an API handler) through a chain of middlewares to a final
// receiver (a repository) by plain method calls, with no reflection and no
// allocation.
//
// The routing is declared in a YAML spec (routing.yaml):
//
//	imports:                  # alias: import path, for the Go types below
//	  acct: example.com/app/account
//	  api: example.com/app/api
//	  mw: example.com/app/middleware
//	  store: example.com/app/store
//	handlers:                 # every handler: an exported name and its Go type
//	  - {name: AccountAPI, type: "*api.Accounts"}
//	  - {name: Audit, type: "*mw.Audit"}
//	  - {name: AccountRepo, type: "*store.Accounts"}
//	routes:                   # per source, the messages it sends
//	  - source: AccountAPI
//	    messages:
//	      - name: CreateAccount
//	        message: "*acct.CreateAccountRequest"
//	        response: "*acct.Account"
//	        receivers: [Audit, AccountRepo]   # middlewares, then the final receiver
//	messengers:               # each generated package and the handlers it holds
//	  - name: app
//	    package: messenger
//	    output: internal/messenger/messenger.go   # relative to the spec
//	    dispatch: direct      # optional: interface (the default) or direct
//	    handlers: [AccountAPI, Audit, AccountRepo]
//
// For each messenger, [Generate] emits one Go file holding only the listed
// handlers and the routes among them:
//
//	type Messenger struct{ ... }                       // implements every <Source>Sender
//	func New(audit AuditHandler, accountRepo AccountRepoHandler) *Messenger
//	type AccountAPISender interface {
//		SendCreateAccount(ctx context.Context, msg *acct.CreateAccountRequest) (*acct.Account, error)
//	}
//	type AuditHandler interface { // a middleware
//		HandleCreateAccount(ctx context.Context, msg *acct.CreateAccountRequest, next NextCreateAccount) (*acct.Account, error)
//	}
//	type AccountRepoHandler interface { // the final receiver
//		HandleCreateAccount(ctx context.Context, msg *acct.CreateAccountRequest) (*acct.Account, error)
//	}
//	type NextCreateAccount = interface {
//		Send(ctx context.Context, msg *acct.CreateAccountRequest) (*acct.Account, error)
//	}
//
// A middleware forwards with return next.Send(ctx, msg), possibly with a
// derived context, and gets the final receiver's response back; it stops the
// message by returning an error. New takes the receivers only: sources call
// the messenger rather than being called by it, and take it as their Sender.
//
// By default (dispatch: interface) the messenger holds each receiver as its
// Handler interface, so New accepts fakes. With dispatch: direct it holds
// each receiver as its declared type instead:
//
//	func New(audit *mw.Audit, accountRepo *store.Accounts) *Messenger
//
// and calls it statically, at the cost of importing the receivers' packages
// (which therefore must not import the messenger; a middleware declares the
// Next alias it needs itself). The Sender, Handler and Next types are the
// same in both modes, so a spec typically gives the server a direct
// messenger and tests interface messengers of the same handlers.
//
// An illegal spec produces no files but [Diagnostics]: every problem found,
// each as file:line:col: message, sorted by position.
//
// The command cmd/messengergen writes the files (-spec, -graph for Mermaid
// diagrams, -check to fail on stale files). The full reference is
// docs/messengergen.md in the repository.
package messengergen
