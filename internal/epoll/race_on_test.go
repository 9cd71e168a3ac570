//go:build race

package epoll

// raceEnabled: the race detector allocates, so allocation counts mean nothing.
const raceEnabled = true
