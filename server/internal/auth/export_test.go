package auth

// InFlight is the number of verifications running, for tests that must
// wait for a background refresh to finish.
func (v *Verifier) InFlight() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.inflight)
}
