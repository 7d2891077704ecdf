package auth

import (
	"container/list"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/server/internal/identity"
)

// sessionCache remembers verified sessions until their expiry, bounded in
// size: when full, the least recently used entry goes.
type sessionCache struct {
	mu    sync.Mutex
	max   int
	lru   *list.List // of *cacheEntry, most recently used first
	index map[cacheKey]*list.Element
}

type cacheEntry struct {
	key     cacheKey
	user    identity.User
	expires time.Time
	// refreshAt is when the entry is due to be verified again, in the
	// background, while it is still served (at or before expires).
	refreshAt time.Time
	// graceUntil (at or after expires) is how long the entry is kept to be
	// served while Kratos cannot answer (stale): never past the session's
	// own expiry.
	graceUntil time.Time
}

func newSessionCache(maxEntries int) *sessionCache {
	return &sessionCache{max: maxEntries, lru: list.New(), index: make(map[cacheKey]*list.Element)}
}

// get returns the user of a session verified earlier, unless its entry
// expired by now, and whether the entry is due for a refresh.
func (c *sessionCache) get(k cacheKey, now time.Time) (u identity.User, ok, refresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.index[k]
	if !ok {
		return identity.User{}, false, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		if !now.Before(e.graceUntil) {
			c.remove(el)
		}
		return identity.User{}, false, false
	}
	c.lru.MoveToFront(el)
	return e.user, true, !now.Before(e.refreshAt)
}

// stale returns the user of an entry past its expiry but within its grace
// period: only for when Kratos cannot answer.
func (c *sessionCache) stale(k cacheKey, now time.Time) (identity.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.index[k]
	if !ok {
		return identity.User{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.graceUntil) {
		c.remove(el)
		return identity.User{}, false
	}
	return e.user, true
}

// put remembers u until expires, due for a refresh from refreshAt, and
// keeps it until graceUntil for when Kratos cannot answer.
func (c *sessionCache) put(k cacheKey, u identity.User, expires, refreshAt, graceUntil time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.index[k]; ok {
		e := el.Value.(*cacheEntry)
		e.user, e.expires, e.refreshAt, e.graceUntil = u, expires, refreshAt, graceUntil
		c.lru.MoveToFront(el)
		return
	}
	for c.lru.Len() >= c.max {
		c.remove(c.lru.Back())
	}
	c.index[k] = c.lru.PushFront(&cacheEntry{key: k, user: u, expires: expires, refreshAt: refreshAt, graceUntil: graceUntil})
}

// postpone moves k's next refresh to halfway between now and the entry's
// expiry (at least minRetry on), after a refresh that failed without
// deciding anything about the session (Kratos unreachable, say). Past the
// expiry the entry is not served and the next request verifies in the
// foreground.
func (c *sessionCache) postpone(k cacheKey, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.index[k]; ok {
		e := el.Value.(*cacheEntry)
		e.refreshAt = now.Add(max(e.expires.Sub(now)/2, minRetry))
	}
}

// minRetry is the shortest wait before a failed refresh is tried again.
const minRetry = 50 * time.Millisecond

// drop forgets k's entry, if any.
func (c *sessionCache) drop(k cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.index[k]; ok {
		c.remove(el)
	}
}

func (c *sessionCache) remove(el *list.Element) {
	delete(c.index, el.Value.(*cacheEntry).key)
	c.lru.Remove(el)
}

func (c *sessionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
