package sys

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

const (
	possibleCPUsPath = "/sys/devices/system/cpu/possible"

	// MaxCPUs is the largest possible-CPU count PossibleCPUs believes:
	// kernels are built for at most 8192 (x86's MAXSMP), so a file that
	// claims more is not the kernel's.
	MaxCPUs = 1 << 16
)

var possibleCPUs = sync.OnceValues(func() (int, error) {
	b, err := os.ReadFile(possibleCPUsPath)
	if err != nil {
		return 0, fmt.Errorf("possible cpus: %w", err)
	}
	return ParsePossibleCPUs(b)
})

// PossibleCPUs returns the number of possible CPUs, the number of slots a
// per-CPU map value has. It reads /sys/devices/system/cpu/possible once
// and checks it with ParsePossibleCPUs.
func PossibleCPUs() (int, error) { return possibleCPUs() }

// ParsePossibleCPUs parses contents, the text of
// /sys/devices/system/cpu/possible (a CPU list such as "0-3" or "0,2-5"),
// into the number of possible CPUs: the highest plus one.
//
// The kernel writes one slot per CPU it really has into a per-CPU value
// buffer, so a count below that lets it write past the buffer. Because
// the file can lie (a mount namespace, a container's virtualised sysfs),
// the count is checked against what this process can see of the CPUs:
// it is refused when below the highest CPU of the process's affinity
// mask plus one, runtime.NumCPU, or the count of
// /sys/devices/system/cpu/present or online, and when above MaxCPUs. The
// error names the file.
func ParsePossibleCPUs(contents []byte) (int, error) {
	n, err := parseCPURange(strings.TrimSpace(string(contents)))
	if err != nil {
		return 0, fmt.Errorf("possible cpus: %s: %w", possibleCPUsPath, err)
	}
	if seen, where := visibleCPUs(); n < seen {
		return 0, fmt.Errorf("possible cpus: %s: %d CPUs, but %s shows %d: per-CPU values sized from the file would be overflowed by the kernel (is a foreign sysfs mounted here?)",
			possibleCPUsPath, n, where, seen)
	}
	return n, nil
}

// visibleCPUs returns the fewest possible CPUs the kernel can have, from
// what this process sees, and where it saw that many.
func visibleCPUs() (int, string) {
	n, where := runtime.NumCPU(), "runtime.NumCPU"
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		for cpu := len(set)*64 - 1; cpu >= n; cpu-- {
			if set.IsSet(cpu) {
				n, where = cpu+1, fmt.Sprintf("sched_getaffinity (CPU %d)", cpu)
				break
			}
		}
	}
	for _, path := range []string{"/sys/devices/system/cpu/present", "/sys/devices/system/cpu/online"} {
		if b, err := os.ReadFile(path); err == nil {
			if c, err := parseCPURange(strings.TrimSpace(string(b))); err == nil && c > n {
				n, where = c, path
			}
		}
	}
	return n, where
}

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
		if h >= MaxCPUs {
			return 0, fmt.Errorf("cpu list %q: CPU %d, more than a kernel can have (%d)", s, h, MaxCPUs)
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
	if valueSize < 0 || valueSize > math.MaxInt/MaxCPUs-8 {
		return 0, fmt.Errorf("per-CPU value size: %d bytes is out of range", valueSize)
	}
	return n * ValueStride(valueSize), nil
}

const onlineCPUsPath = "/sys/devices/system/cpu/online"

// OnlineCPUs returns the numbers of the CPUs that are online now, read
// from /sys/devices/system/cpu/online. CPUs go on and offline at run
// time, so it reads the file on every call.
func OnlineCPUs() ([]int, error) {
	b, err := os.ReadFile(onlineCPUsPath)
	if err != nil {
		return nil, fmt.Errorf("online cpus: %w", err)
	}
	cpus, err := ParseCPUList(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("online cpus: %s: %w", onlineCPUsPath, err)
	}
	return cpus, nil
}

// ParseCPUList parses a CPU list as sysfs writes it ("0-3", "0,2-5", or
// empty for none) into the CPU numbers it names, in increasing order.
func ParseCPUList(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	if _, err := parseCPURange(s); err != nil {
		return nil, err
	}
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		l, _ := strconv.Atoi(lo)
		h, _ := strconv.Atoi(hi)
		for c := l; c <= h; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}
