package transport

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
)

func TestSamplingWindow(t *testing.T) {
	s := newSampler(LogSampling{First: 3, Thereafter: 4})
	s.addServices(map[string]grpc.ServiceInfo{"groundwork.v1.AccountService": {
		Methods: []grpc.MethodInfo{{Name: "GetAccount"}, {Name: "CreateAccount"}},
	}})
	const get, create = "/groundwork.v1.AccountService/GetAccount", "/groundwork.v1.AccountService/CreateAccount"
	t0 := time.Unix(1_700_000_000, 0)

	kept := func(method string, ok bool, at time.Time, n int) []int {
		var out []int
		for i := 1; i <= n; i++ {
			if s.keep(method, ok, at) {
				out = append(out, i)
			}
		}
		return out
	}
	// The first three, then every fourth after them.
	require.Equal(t, []int{1, 2, 3, 7, 11, 15}, kept(get, true, t0, 16))
	// Failures of the same method and the other method count on their own.
	require.Equal(t, []int{1, 2, 3}, kept(get, false, t0, 5))
	require.Equal(t, []int{1, 2, 3}, kept(create, true, t0.Add(500*time.Millisecond), 4))
	// Still the same second for GetAccount's successes: sampled.
	require.Empty(t, kept(get, true, t0.Add(999*time.Millisecond), 2))
	// A new second starts over.
	require.Equal(t, []int{1, 2, 3}, kept(get, true, t0.Add(time.Second), 5))
	// Unknown methods are never sampled.
	require.Equal(t, []int{1, 2, 3, 4, 5}, kept("/other.Service/Call", true, t0, 5))

	// Successes: 10 of the first 16, the next 2, 2 of the 5 a second later.
	require.Equal(t, uint64(14), s.methods[get].ok.dropped.Load())
	require.Equal(t, uint64(2), s.methods[get].failed.dropped.Load())
	require.Equal(t, uint64(1), s.methods[create].ok.dropped.Load())
}

func TestNoSamplingByDefault(t *testing.T) {
	require.Nil(t, newSampler(LogSampling{}))
	require.Nil(t, newSampler(LogSampling{First: 0, Thereafter: 10}))
}

func TestSamplingWithoutThereafterKeepsOnlyTheFirst(t *testing.T) {
	s := newSampler(LogSampling{First: 2})
	s.addServices(map[string]grpc.ServiceInfo{"svc": {Methods: []grpc.MethodInfo{{Name: "M"}}}})
	var kept int
	for range 1000 {
		if s.keep("/svc/M", true, time.Unix(0, 0)) {
			kept++
		}
	}
	require.Equal(t, 2, kept)
	require.Equal(t, uint64(998), s.methods["/svc/M"].ok.dropped.Load())
}

// Within one second the count is exact however many RPCs end at once
// (only the first line of a second races with the reset, so it comes
// first here).
func TestSamplingIsExactUnderConcurrency(t *testing.T) {
	s := newSampler(LogSampling{First: 100, Thereafter: 100})
	s.addServices(map[string]grpc.ServiceInfo{"svc": {Methods: []grpc.MethodInfo{{Name: "M"}}}})
	now := time.Unix(1_700_000_000, 0)
	var wg sync.WaitGroup
	var kept atomic.Int64
	require.True(t, s.keep("/svc/M", true, now))
	kept.Add(1)
	for range 8 {
		wg.Go(func() {
			for range 10_000 {
				if s.keep("/svc/M", true, now) {
					kept.Add(1)
				}
			}
		})
	}
	wg.Wait()
	const n = 1 + 8*10_000
	require.Equal(t, int64(100+(n-100)/100), kept.Load())
	require.Equal(t, uint64(n-kept.Load()), s.methods["/svc/M"].ok.dropped.Load())
}
