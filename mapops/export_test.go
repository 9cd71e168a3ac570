package mapops

import "testing"

// ForceNextKey makes iteration use get_next_key until the test ends.
func ForceNextKey(t testing.TB) {
	forceNextKey = true
	t.Cleanup(func() { forceNextKey = false })
}

// Restarts returns how many get_next_key restarts walks have detected.
func Restarts() int64 { return restarts.Load() }
