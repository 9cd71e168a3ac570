module github.com/bpfmaps/bpfmaps/bench

go 1.25.0

require (
	github.com/bpfmaps/bpfmaps v0.0.0
	github.com/cilium/ebpf v0.22.0
	golang.org/x/sys v0.43.0
)

replace github.com/bpfmaps/bpfmaps => ../
