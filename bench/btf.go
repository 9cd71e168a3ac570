package main

import (
	"fmt"
	"os"

	ciliumbtf "github.com/cilium/ebpf/btf"

	"github.com/bpfmaps/bpfmaps/btf"
)

// vmlinuxBTF is where the kernel publishes its own BTF.
const vmlinuxBTF = "/sys/kernel/btf/vmlinux"

// btfBenches: parsing the kernel's BTF from the file; the unit is one
// parse. cilium/ebpf decodes types lazily (LoadSpecFromReader indexes
// them), so a second row also visits every type once.
func btfBenches(add addFunc) error {
	f, err := os.Open(vmlinuxBTF)
	if err != nil {
		return fmt.Errorf("BTF rows: %w", err)
	}
	f.Close()
	add("btf_parse", bpfmaps, nil, func() (int, error) {
		_, err := btf.LoadKernel()
		return 1, err
	})
	add("btf_types", bpfmaps, nil, func() (int, error) {
		spec, err := btf.LoadKernel()
		if err != nil {
			return 0, err
		}
		n := 0
		for range spec.All() {
			n++
		}
		if n != spec.NumTypes() {
			return 0, fmt.Errorf("visited %d of %d types", n, spec.NumTypes())
		}
		return 1, nil
	})
	add("btf_parse", cilium, nil, func() (int, error) {
		_, err := ciliumLoad()
		return 1, err
	})
	add("btf_types", cilium, nil, func() (int, error) {
		spec, err := ciliumLoad()
		if err != nil {
			return 0, err
		}
		for _, err := range spec.All() {
			if err != nil {
				return 0, err
			}
		}
		return 1, nil
	})
	return nil
}

// ciliumLoad is cilium/ebpf's parse of the kernel's BTF from the file.
func ciliumLoad() (*ciliumbtf.Spec, error) {
	f, err := os.Open(vmlinuxBTF)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ciliumbtf.LoadSpecFromReader(f)
}
