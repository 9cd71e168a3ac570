package sys

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

const possibleCPUsPath = "/sys/devices/system/cpu/possible"

var possibleCPUs = sync.OnceValues(func() (int, error) {
	b, err := os.ReadFile(possibleCPUsPath)
	if err != nil {
		return 0, fmt.Errorf("possible cpus: %w", err)
	}
	n, err := parseCPURange(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("possible cpus: %s: %w", possibleCPUsPath, err)
	}
	return n, nil
})

// PossibleCPUs returns the number of possible CPUs, the number of slots a
// per-CPU map value has. It reads /sys/devices/system/cpu/possible once.
func PossibleCPUs() (int, error) { return possibleCPUs() }

// parseCPURange parses a CPU list such as "0-3" or "0,2-5" and returns the
// highest CPU number plus one: the kernel sizes per-CPU values by that.
func parseCPURange(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("empty cpu list")
	}
	highest := -1
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || l < 0 || h < l {
			return 0, fmt.Errorf("malformed cpu list %q", s)
		}
		highest = max(highest, h)
	}
	return highest + 1, nil
}

// ValueStride returns the distance in bytes between consecutive values
// where the kernel lays values out back to back, each 8-byte aligned: the
// value size rounded up to 8. Those are the CPU slots of a per-CPU value
// buffer and the elements of an array mapped with BPF_F_MMAPABLE.
func ValueStride(valueSize int) int { return (valueSize + 7) &^ 7 }

// PerCPUValueSize returns the size of the buffer that a lookup of a per-CPU
// map with the given value size fills: one 8-byte aligned slot per possible
// CPU.
func PerCPUValueSize(valueSize int) (int, error) {
	n, err := PossibleCPUs()
	if err != nil {
		return 0, err
	}
	return n * ValueStride(valueSize), nil
}
