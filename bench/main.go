// Command bench runs bpfmaps beside cilium/ebpf and libbpf on the same
// kernel fixtures and prints one markdown table of medians with ratios.
//
// bpfmaps, cilium/ebpf and the floor (the same work done by hand: a raw
// bpf(2) call with a preallocated attribute, a bare loop over the ring
// memory) run in this process; libbpf runs in a small C program (libbpf/peer.c)
// that this process starts once per round, handing it the descriptors of
// the same maps and of the programs that fill and drain its rings. Every
// round runs every peer of every row, in an order that rotates from round
// to round (the Go peers of a map-operation row interleaved in chunks of
// 1000 operations); the table shows the medians over the rounds of the
// measuring thread's CPU time per operation.
//
// Run it through run.sh, which installs the C toolchain and libbpf, builds
// the peer and this command and runs them as root:
//
//	bench/run.sh          # 6 rounds
//	bench/run.sh -quick   # 3 rounds, fewer operations per sample
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Peers, in table order.
const (
	floor   = "floor"
	bpfmaps = "bpfmaps"
	cilium  = "cilium/ebpf"
	libbpf  = "libbpf"
)

var peers = []string{floor, bpfmaps, cilium, libbpf}

// A bench is one peer's form of one row. prep runs untimed before each
// sample (filling or draining a ring); run is timed and returns how many
// operations it did, the unit of the row's figures.
type bench struct {
	row, peer string
	prep      func() error
	run       func() (int, error)
	op        func() error // one operation, for the rows measured interleaved
}

// samplesPerRound is how many samples of each peer a round takes of a row,
// the peers taking turns: the batch walk swings between about 14 and 25 ms
// from one walk to the next, for every peer alike (the floor too), so that
// one walk per round leaves its median to chance.
func samplesPerRound(row string) int {
	if row == "walk_batch" {
		return 7
	}
	return 1
}

// chunk is how many operations of one peer run in a row when a row's peers
// are interleaved.
const chunk = 1000

// measureInterleaved measures the single-operation benches of one row in
// alternating chunks, so that every peer sees the same machine (a shared
// machine drifts by tens of percent within seconds): n operations of each
// in all. The allocations are left to the warm-up's separate measurement.
func measureInterleaved(bs []bench, n int) ([]sample, error) {
	runtime.GC()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	spent := make([]int64, len(bs))
	for done := 0; done < n; done += chunk {
		for i, b := range bs {
			start := threadTime()
			for range min(chunk, n-done) {
				if err := b.op(); err != nil {
					return nil, fmt.Errorf("%s %s: %w", b.row, b.peer, err)
				}
			}
			spent[i] += threadTime() - start
		}
	}
	out := make([]sample, len(bs))
	for i := range bs {
		out[i].ns = float64(spent[i]) / float64(n)
	}
	return out, nil
}

// sample is one timed run: nanoseconds and heap allocations per operation.
type sample struct{ ns, allocs float64 }

type results map[[2]string][]sample

func (r results) add(row, peer string, s sample) {
	k := [2]string{row, peer}
	r[k] = append(r[k], s)
}

func measure(b bench) (sample, error) {
	// Collect the garbage of the benches before, so that none of it is
	// charged to this one (as GC assists of its allocations). Then prepare
	// on the measuring thread, right before the timed part, as the libbpf
	// peer does: a collection between the two would evict the ring that
	// the kernel just filled or drained from the caches, by a varying
	// amount.
	runtime.GC()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if b.prep != nil {
		if err := b.prep(); err != nil {
			return sample{}, fmt.Errorf("%s %s: %w", b.row, b.peer, err)
		}
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := threadTime()
	n, err := b.run()
	elapsed := threadTime() - start
	runtime.ReadMemStats(&m1)
	if err != nil {
		return sample{}, fmt.Errorf("%s %s: %w", b.row, b.peer, err)
	}
	if n <= 0 {
		return sample{}, fmt.Errorf("%s %s: no operations", b.row, b.peer)
	}
	return sample{
		ns:     float64(elapsed) / float64(n),
		allocs: float64(m1.Mallocs-m0.Mallocs) / float64(n),
	}, nil
}

// threadTime returns the CPU time of the calling thread in nanoseconds,
// user and system. The benches time CPU time rather than wall time: on a
// machine shared with other work, time spent waiting for a CPU is not the
// peer's cost, and it is most of the noise of wall-clock figures there.
// The thread must be locked (measure does it); peers do not block.
func threadTime() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

// config holds the sizes of one run; the libbpf peer gets the same ones.
type config struct {
	rounds    int
	ops       int // map operations per sample
	walkEntry int // entries of the walked hash
	ringSize  int // kernel ring, bytes
	userRing  int // user ring, bytes
}

func main() {
	quick := flag.Bool("quick", false, "3 rounds and fewer operations per sample")
	rounds := flag.Int("rounds", 0, "rounds (default 6, or 3 with -quick)")
	peer := flag.String("libbpf", "", "path of the libbpf peer binary; empty leaves libbpf out")
	verbose := flag.Bool("v", false, "print every sample as it is measured")
	rows := flag.String("run", "", "only the Go rows whose id matches this regular expression (lookup_u32, walk_batch, copy_64, urb_single, btf_parse, …)")
	flag.Parse()

	cfg := config{rounds: 6, ops: 100_000, walkEntry: 100_000, ringSize: 64 << 20, userRing: 16 << 20}
	if *quick {
		cfg.rounds, cfg.ops = 3, 20_000
	}
	if *rounds > 0 {
		cfg.rounds = *rounds
	}
	re, err := regexp.Compile(*rows)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: -run:", err)
		os.Exit(2)
	}
	if err := run(cfg, *peer, re, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(cfg config, peerPath string, rows *regexp.Regexp, verbose bool) error {
	fx, err := newFixtures(cfg)
	if err != nil {
		return err
	}
	defer fx.close()
	all, err := fx.benches()
	if err != nil {
		return err
	}
	var benches []bench
	for _, b := range all {
		if rows.MatchString(b.row) {
			benches = append(benches, b)
		}
	}
	// Warm up: every bench once, untimed, so that every ring is mapped and
	// touched and the code paths are hot before the first round.
	allocs := map[[2]string]float64{}
	for _, b := range benches {
		s, err := measure(b)
		if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		allocs[[2]string{b.row, b.peer}] = s.allocs
		if verbose {
			fmt.Fprintf(os.Stderr, "warm-up  %-14s %-12s %10.1f ns %6.2f allocs\n", b.row, b.peer, s.ns, s.allocs)
		}
	}
	res := results{}
	start := time.Now()
	for round := range cfg.rounds {
		// Rotate the order of the peers within each row.
		byRow := map[string][]bench{}
		var rowOrder []string
		for _, b := range benches {
			if _, ok := byRow[b.row]; !ok {
				rowOrder = append(rowOrder, b.row)
			}
			byRow[b.row] = append(byRow[b.row], b)
		}
		cPeer := func() error {
			if peerPath == "" {
				return nil
			}
			return runLibbpf(peerPath, cfg, fx, res, verbose)
		}
		if round%2 == 1 {
			if err := cPeer(); err != nil {
				return err
			}
		}
		for _, row := range rowOrder {
			bs := byRow[row]
			if bs[0].op != nil {
				rotated := append(slices.Clone(bs[round%len(bs):]), bs[:round%len(bs)]...)
				ss, err := measureInterleaved(rotated, cfg.ops)
				if err != nil {
					return err
				}
				for i, b := range rotated {
					ss[i].allocs = allocs[[2]string{b.row, b.peer}]
					if verbose {
						fmt.Fprintf(os.Stderr, "round %d %-14s %-12s %10.1f ns (interleaved)\n", round, b.row, b.peer, ss[i].ns)
					}
					res.add(b.row, b.peer, ss[i])
				}
				continue
			}
			for i := range len(bs) * samplesPerRound(row) {
				b := bs[(i+round)%len(bs)]
				s, err := measure(b)
				if err != nil {
					return err
				}
				if verbose {
					fmt.Fprintf(os.Stderr, "round %d %-14s %-12s %10.1f ns %6.2f allocs\n", round, b.row, b.peer, s.ns, s.allocs)
				}
				res.add(b.row, b.peer, s)
			}
		}
		if round%2 == 0 {
			if err := cPeer(); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "bench: round %d of %d done (%.0f s)\n", round+1, cfg.rounds, time.Since(start).Seconds())
	}
	printTable(os.Stdout, cfg, res, peerPath != "")
	return nil
}

// runLibbpf runs one round of the libbpf peer. It inherits the fixtures'
// descriptors as 3, 4, … in the order of fixtures.cFiles and prints one
// line per row: "row<TAB>nanoseconds per operation".
func runLibbpf(path string, cfg config, fx *fixtures, res results, verbose bool) error {
	files, err := fx.cFiles()
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	cmd := exec.Command(path,
		strconv.Itoa(cfg.ops), strconv.Itoa(cfg.walkEntry), strconv.Itoa(cfg.ringSize), strconv.Itoa(fx.userSamples()))
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("libbpf peer: %w", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		row, val, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			return fmt.Errorf("libbpf peer: unexpected line %q", sc.Text())
		}
		ns, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return fmt.Errorf("libbpf peer: line %q: %w", sc.Text(), err)
		}
		if verbose {
			fmt.Fprintf(os.Stderr, "libbpf   %-14s %10.1f ns\n", row, ns)
		}
		res.add(row, libbpf, sample{ns: ns, allocs: -1})
	}
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
