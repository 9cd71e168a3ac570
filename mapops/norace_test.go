//go:build !race

package mapops_test

const raceEnabled = false
