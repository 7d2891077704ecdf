package example_test

import (
	"context"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/messengergen/internal/example/account"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/messenger"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/nopchain"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/nopchain/direct"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/nopchain/iface"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/policy"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/store"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/testadmin"
)

// The benchmarks send CloseAccount through Authorize → Audit → AccountRepo
// three ways, always through the same handler values:
//
//   - handwritten: what one would write by hand. It holds the handlers as
//     their concrete types and calls them statically, and passes each
//     middleware a forwarder holding one pointer, as the middleware's
//     NextCloseAccount (an interface: that is the middleware's signature).
//   - direct: a generated messenger with dispatch: direct. The same shape
//     as handwritten: concrete fields, static calls, one-pointer forwarders.
//   - interface: a generated messenger with dispatch: interface (the
//     default). It holds the handlers as interfaces, so every call to a
//     handler is dynamic too.
//
// The middleware code is the same for all three, so each pays the same
// dynamic next.Send that its signature implies; what differs is only how
// the chain reaches the handlers.

// handChain is the hand-written chain over the example app's handlers.
type handChain struct {
	authorize *policy.Authorizer
	audit     *policy.Audit
	repo      *store.Accounts
}

func (c *handChain) SendCloseAccount(ctx context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error) {
	return c.authorize.HandleCloseAccount(ctx, msg, handToAudit{c})
}

type handToAudit struct{ c *handChain }

func (n handToAudit) Send(ctx context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error) {
	return n.c.audit.HandleCloseAccount(ctx, msg, handToRepo(n))
}

type handToRepo struct{ c *handChain }

func (n handToRepo) Send(ctx context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error) {
	return n.c.repo.HandleCloseAccount(ctx, msg)
}

// nopChain is the hand-written chain over nopchain's handlers, which do no
// work: the worst case for any overhead of the generated code.
type nopChain struct {
	authorize *nopchain.Middleware
	audit     *nopchain.Middleware
	repo      *nopchain.Repo
}

func (c *nopChain) SendCloseAccount(ctx context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error) {
	return c.authorize.HandleCloseAccount(ctx, msg, nopToAudit{c})
}

type nopToAudit struct{ c *nopChain }

func (n nopToAudit) Send(ctx context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error) {
	return n.c.audit.HandleCloseAccount(ctx, msg, nopToRepo(n))
}

type nopToRepo struct{ c *nopChain }

func (n nopToRepo) Send(ctx context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error) {
	return n.c.repo.HandleCloseAccount(ctx, msg)
}

// closeSender is what a source holds (api.Admin holds a
// messenger.AdminAPISender): the benchmarks call every variant through it,
// as a source would.
type closeSender interface {
	SendCloseAccount(ctx context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error)
}

// dispatchCase is a context, a message, and the three ways to send it, in
// the order handwritten, direct, interface.
type dispatchCase struct {
	ctx     context.Context
	msg     *account.CloseAccountRequest
	names   [3]string
	senders [3]closeSender
}

var variantNames = [3]string{"handwritten", "direct", "interface"}

// withWork sends through the example app's handlers: Authorize looks up the
// caller in the context and a map, Audit increments an atomic counter, and
// the repository takes a mutex and looks up and writes a map entry. The
// account is closed once beforehand, so every send takes the same path.
func withWork(tb testing.TB) dispatchCase {
	tb.Helper()
	authorize := &policy.Authorizer{Admins: map[string]bool{"root": true}}
	audit := &policy.Audit{}
	repo := store.NewAccounts()
	ctx := policy.WithActor(context.Background(), "root")
	acc, err := repo.HandleOpenAccount(ctx, &account.OpenAccountRequest{Owner: "ada"})
	if err != nil {
		tb.Fatal(err)
	}
	msg := &account.CloseAccountRequest{ID: acc.ID}
	hand := &handChain{authorize, audit, repo}
	if _, err := hand.SendCloseAccount(ctx, msg); err != nil {
		tb.Fatal(err)
	}
	return dispatchCase{ctx, msg, variantNames, [3]closeSender{
		hand,
		messenger.New(authorize, audit, repo),
		testadmin.New(authorize, audit, repo),
	}}
}

// empty sends through nopchain's handlers, which only forward and answer.
func empty() dispatchCase {
	authorize, audit, repo := &nopchain.Middleware{}, &nopchain.Middleware{}, &nopchain.Repo{}
	return dispatchCase{context.Background(), &account.CloseAccountRequest{ID: "a1"}, variantNames, [3]closeSender{
		&nopChain{authorize, audit, repo},
		direct.New(authorize, audit, repo),
		iface.New(authorize, audit, repo),
	}}
}

// benchSeparately runs each variant of c as its own sub-benchmark.
func benchSeparately(b *testing.B, c dispatchCase) {
	for i, name := range c.names {
		s := c.senders[i]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.SendCloseAccount(c.ctx, c.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDispatch measures each variant with the example app's handlers,
// one after the other (see BenchmarkDispatchRatio for the fair comparison).
func BenchmarkDispatch(b *testing.B) { benchSeparately(b, withWork(b)) }

// BenchmarkDispatchEmptyHandlers measures each variant with handlers that
// do no work, one after the other.
func BenchmarkDispatchEmptyHandlers(b *testing.B) { benchSeparately(b, empty()) }

// BenchmarkDispatchRatio interleaves blocks of 1,000 sends of each variant,
// rotating which goes first, so that all see the same machine load. One op
// is one block of each. It reports the ns per send of each variant and the
// ratios direct/hand and iface/hand.
func BenchmarkDispatchRatio(b *testing.B) {
	bench := func(b *testing.B, c dispatchCase) {
		const block = 1000
		var elapsed [3]time.Duration
		var sends, round int
		b.ReportAllocs()
		for b.Loop() {
			for k := range 3 {
				i := (round + k) % 3
				s := c.senders[i]
				start := time.Now()
				for range block {
					if _, err := s.SendCloseAccount(c.ctx, c.msg); err != nil {
						b.Fatal(err)
					}
				}
				elapsed[i] += time.Since(start)
			}
			round++
			sends += block
		}
		for i, name := range []string{"hand", "direct", "iface"} {
			b.ReportMetric(float64(elapsed[i].Nanoseconds())/float64(sends), name+"-ns/send")
		}
		b.ReportMetric(float64(elapsed[1])/float64(elapsed[0]), "direct/hand")
		b.ReportMetric(float64(elapsed[2])/float64(elapsed[0]), "iface/hand")
	}
	b.Run("handlers-with-work", func(b *testing.B) { bench(b, withWork(b)) })
	b.Run("empty-handlers", func(b *testing.B) { bench(b, empty()) })
}

// TestDispatchVariantsAgree checks that the benchmarks' three variants do
// the same thing, and that none allocates.
func TestDispatchVariantsAgree(t *testing.T) {
	for _, c := range []dispatchCase{withWork(t), empty()} {
		var results [3]account.CloseAccountResult
		for i, s := range c.senders {
			res, err := s.SendCloseAccount(c.ctx, c.msg)
			if err != nil {
				t.Fatalf("%s: %v", c.names[i], err)
			}
			results[i] = res
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := s.SendCloseAccount(c.ctx, c.msg); err != nil {
					panic(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%s: %v allocs per send, want 0", c.names[i], allocs)
			}
		}
		for i := range results {
			// The audit record numbers differ by design: each send gets the next one.
			results[i].AuditRecord = 0
			if results[i] != results[0] {
				t.Errorf("%s returned %+v, handwritten %+v", c.names[i], results[i], results[0])
			}
		}
	}
}
