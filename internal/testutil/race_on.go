//go:build race

package testutil

// RaceEnabled reports whether the race detector is on. Under it,
// allocation counts mean nothing: the detector allocates, and it makes
// sync.Pool drop a quarter of what is put back, so pooled scratch
// buffers are reallocated.
const RaceEnabled = true
