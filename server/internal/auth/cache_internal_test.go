package auth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"

	"github.com/groundwork-dev/groundwork/server/internal/identity"
)

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	now := time.Now()
	later := now.Add(time.Minute)
	c := newSessionCache(2)
	a, b, d := credential{kindToken, "a"}.key(), credential{kindToken, "b"}.key(), credential{kindToken, "d"}.key()

	c.put(a, identity.User{ID: "a"}, later, later, later)
	c.put(b, identity.User{ID: "b"}, later, later, later)
	_, ok, _ := c.get(a, now) // a is now the most recently used
	require.True(t, ok)
	c.put(d, identity.User{ID: "d"}, later, later, later)

	require.Equal(t, 2, c.len())
	_, ok, _ = c.get(b, now)
	require.False(t, ok, "b was least recently used")
	u, ok, _ := c.get(a, now)
	require.True(t, ok)
	require.Equal(t, "a", u.ID)
	_, ok, _ = c.get(d, now)
	require.True(t, ok)
}

func TestCacheExpiry(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := newSessionCache(10)
	k := credential{kindToken, "a"}.key()
	c.put(k, identity.User{ID: "a"}, now.Add(time.Second), now.Add(time.Second), now.Add(time.Second))

	_, ok, _ := c.get(k, now.Add(time.Second-time.Nanosecond))
	require.True(t, ok)
	_, ok, _ = c.get(k, now.Add(time.Second))
	require.False(t, ok, "expired at its expiry instant")
	require.Equal(t, 0, c.len(), "an expired entry is dropped when seen")

	// Replacing an entry updates it in place.
	c.put(k, identity.User{ID: "a"}, now.Add(time.Second), now.Add(time.Second), now.Add(time.Second))
	c.put(k, identity.User{ID: "a2"}, now.Add(2*time.Second), now.Add(2*time.Second), now.Add(2*time.Second))
	require.Equal(t, 1, c.len())
	u, ok, _ := c.get(k, now.Add(time.Second))
	require.True(t, ok)
	require.Equal(t, "a2", u.ID)
}

// oneEntry is a cache holding user "a", put at now, expiring at 5 s and due
// for a refresh at 4 s.
func oneEntry() (c *sessionCache, k cacheKey, now time.Time) {
	now = time.Now()
	c = newSessionCache(10)
	k = credential{kindToken, "a"}.key()
	c.put(k, identity.User{ID: "a"}, now.Add(5*time.Second), now.Add(4*time.Second), now.Add(5*time.Second))
	return c, k, now
}

func TestCacheSaysWhenARefreshIsDue(t *testing.T) {
	t.Parallel()
	c, k, now := oneEntry()

	_, ok, refresh := c.get(k, now.Add(4*time.Second-time.Nanosecond))
	require.True(t, ok)
	require.False(t, refresh, "not due before refreshAt")
	u, ok, refresh := c.get(k, now.Add(4*time.Second))
	require.True(t, ok, "still served after refreshAt")
	require.True(t, refresh)
	require.Equal(t, "a", u.ID)
	_, ok, _ = c.get(k, now.Add(5*time.Second))
	require.False(t, ok, "never served at or past expires")

	c.put(k, identity.User{ID: "a"}, now.Add(5*time.Second), now.Add(4*time.Second), now.Add(5*time.Second))
	c.drop(k)
	_, ok, _ = c.get(k, now)
	require.False(t, ok, "dropped")
	c.drop(k) // dropping a missing key is fine
}

func TestCachePostponesAFailedRefresh(t *testing.T) {
	t.Parallel()
	c, k, now := oneEntry()

	at := now.Add(4 * time.Second)
	c.postpone(k, at)
	_, ok, refresh := c.get(k, at.Add(500*time.Millisecond-time.Nanosecond))
	require.True(t, ok)
	require.False(t, refresh, "the next refresh waits half the remaining second")
	_, _, refresh = c.get(k, at.Add(500*time.Millisecond))
	require.True(t, refresh)

	// Close to the expiry the wait is minRetry, and it never outlives the
	// entry: past expires nothing is served.
	late := now.Add(5*time.Second - 10*time.Millisecond)
	c.postpone(k, late)
	_, ok, refresh = c.get(k, late.Add(minRetry-20*time.Millisecond))
	require.False(t, ok, "expired before the postponed refresh")
	require.False(t, refresh)

	c.postpone(credential{kindToken, "missing"}.key(), now) // nothing to postpone is fine
}

func TestRefreshPointIsFourFifthsIn(t *testing.T) {
	t.Parallel()
	now := time.Now()
	require.Equal(t, now.Add(4*time.Second), refreshPoint(now, now.Add(5*time.Second)))
	require.Equal(t, now, refreshPoint(now, now), "an entry that expires at once is due at once")
}

func TestCacheKeysSeparateKindsAndHideTheCredential(t *testing.T) {
	t.Parallel()
	tok, cookie := credential{kindToken, "same"}, credential{kindCookie, "same"}
	require.NotEqual(t, tok.key(), cookie.key())
	k := tok.key()
	require.NotContains(t, string(k[:]), "same")
}

func TestCredentialPrecedence(t *testing.T) {
	t.Parallel()
	md := metadata.MD{
		MetadataSessionToken:  {"from-header"},
		MetadataAuthorization: {"Bearer from-bearer"},
		MetadataCookie:        {DefaultSessionCookie + "=from-cookie"},
	}
	for _, tc := range []struct {
		drop []string
		want credential
	}{
		{nil, credential{kindToken, "from-header"}},
		{[]string{MetadataSessionToken}, credential{kindToken, "from-bearer"}},
		{[]string{MetadataSessionToken, MetadataAuthorization}, credential{kindCookie, "from-cookie"}},
	} {
		m := md.Copy()
		for _, k := range tc.drop {
			delete(m, k)
		}
		got, err := credentialFrom(m, DefaultSessionCookie)
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
	// A different cookie name (WithSessionCookie) finds only that cookie.
	_, err := credentialFrom(metadata.MD{MetadataCookie: {DefaultSessionCookie + "=x"}}, "other")
	require.ErrorIs(t, err, errNoCredentials)
}
