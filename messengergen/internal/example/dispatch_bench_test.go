package example_test

import (
	"context"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/messengergen/internal/example/account"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/messenger"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/policy"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/store"
)

// handChain is what one would write by hand to call the same handlers in
// the same order: concrete types, static calls, and forwarders that hold one
// pointer so that passing them as messenger.NextCloseAccount does not allocate.
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

// BenchmarkDispatch sends CloseAccount through Authorize → Audit →
// AccountRepo, by the generated messenger and by hand, and logs the ratio
// of their ns/op measured in this run.
func BenchmarkDispatch(b *testing.B) {
	var nsPerOp [2]float64
	for i, variant := range []string{"handwritten", "generated"} {
		b.Run(variant, func(b *testing.B) {
			bundle := setup(b)
			ctx := policy.WithActor(context.Background(), "root")
			acc, err := bundle.msgr.SendOpenAccount(ctx, &account.OpenAccountRequest{Owner: "ada"})
			if err != nil {
				b.Fatal(err)
			}
			msg := &account.CloseAccountRequest{ID: acc.ID}
			send := bundle.msgr.SendCloseAccount
			if variant == "handwritten" {
				send = (&handChain{&policy.Authorizer{Admins: map[string]bool{"root": true}}, bundle.audit, bundle.repo}).SendCloseAccount
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := send(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			nsPerOp[i] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
	}
	if nsPerOp[0] > 0 {
		b.Logf("generated/handwritten ns/op: %.3f", nsPerOp[1]/nsPerOp[0])
	}
}

// Handlers that do nothing but forward, to measure the dispatch alone.
type nopMiddleware struct{}

func (nopMiddleware) HandleCloseAccount(ctx context.Context, msg *account.CloseAccountRequest, next messenger.NextCloseAccount) (account.CloseAccountResult, error) {
	return next.Send(ctx, msg)
}

type nopRepo struct{}

func (nopRepo) HandleOpenAccount(context.Context, *account.OpenAccountRequest) (account.Account, error) {
	return account.Account{}, nil
}

func (nopRepo) HandleGetAccount(context.Context, *account.GetAccountRequest) (account.Account, error) {
	return account.Account{}, nil
}

func (nopRepo) HandleCloseAccount(_ context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error) {
	return account.CloseAccountResult{ID: msg.ID}, nil
}

type nopChain struct {
	authorize *nopMiddleware
	audit     *nopMiddleware
	repo      *nopRepo
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

// BenchmarkDispatchEmptyHandlers is BenchmarkDispatch with handlers that do
// no work: the worst case for the generated code's interface calls.
func BenchmarkDispatchEmptyHandlers(b *testing.B) {
	var nsPerOp [2]float64
	for i, variant := range []string{"handwritten", "generated"} {
		b.Run(variant, func(b *testing.B) {
			ctx := context.Background()
			msg := &account.CloseAccountRequest{ID: "a1"}
			send := messenger.New(&nopMiddleware{}, &nopMiddleware{}, &nopRepo{}).SendCloseAccount
			if variant == "handwritten" {
				send = (&nopChain{&nopMiddleware{}, &nopMiddleware{}, &nopRepo{}}).SendCloseAccount
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := send(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			nsPerOp[i] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
	}
	if nsPerOp[0] > 0 {
		b.Logf("generated/handwritten ns/op: %.3f", nsPerOp[1]/nsPerOp[0])
	}
}

// BenchmarkDispatchRatio alternates blocks of 1,000 hand-written and 1,000
// generated sends, so that both see the same machine load, and reports the
// ns per send of each and their ratio (gen/hand). One op is one pair of blocks.
func BenchmarkDispatchRatio(b *testing.B) {
	type sendFunc func(context.Context, *account.CloseAccountRequest) (account.CloseAccountResult, error)
	bench := func(b *testing.B, ctx context.Context, msg *account.CloseAccountRequest, hand, gen sendFunc) {
		const block = 1000
		var handTime, genTime time.Duration
		var sends int
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			for range block {
				if _, err := hand(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			mid := time.Now()
			for range block {
				if _, err := gen(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			handTime += mid.Sub(start)
			genTime += time.Since(mid)
			sends += block
		}
		b.ReportMetric(float64(handTime.Nanoseconds())/float64(sends), "hand-ns/send")
		b.ReportMetric(float64(genTime.Nanoseconds())/float64(sends), "gen-ns/send")
		b.ReportMetric(float64(genTime)/float64(handTime), "gen/hand")
	}

	b.Run("handlers-with-work", func(b *testing.B) {
		bundle := setup(b)
		ctx := policy.WithActor(context.Background(), "root")
		acc, err := bundle.msgr.SendOpenAccount(ctx, &account.OpenAccountRequest{Owner: "ada"})
		if err != nil {
			b.Fatal(err)
		}
		hand := &handChain{&policy.Authorizer{Admins: map[string]bool{"root": true}}, bundle.audit, bundle.repo}
		bench(b, ctx, &account.CloseAccountRequest{ID: acc.ID}, hand.SendCloseAccount, bundle.msgr.SendCloseAccount)
	})
	b.Run("empty-handlers", func(b *testing.B) {
		hand := &nopChain{&nopMiddleware{}, &nopMiddleware{}, &nopRepo{}}
		gen := messenger.New(&nopMiddleware{}, &nopMiddleware{}, &nopRepo{})
		bench(b, context.Background(), &account.CloseAccountRequest{ID: "a1"}, hand.SendCloseAccount, gen.SendCloseAccount)
	})
}
