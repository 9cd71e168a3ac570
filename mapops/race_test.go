//go:build race

package mapops_test

// raceEnabled: the race detector makes sync.Pool drop a quarter of what is
// put back, so pooled scratch buffers get reallocated and allocation
// counts mean nothing.
const raceEnabled = true
