package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// mapEntry is one map as list prints it; the JSON names are bpftool's.
type mapEntry struct {
	ID         uint32 `json:"id"`
	Type       string `json:"type"`
	Name       string `json:"name"`
	Flags      uint32 `json:"flags"`
	KeySize    uint32 `json:"bytes_key"`
	ValueSize  uint32 `json:"bytes_value"`
	MaxEntries uint32 `json:"max_entries"`
}

func runList(args []string, stdout io.Writer) error {
	fs := newFlags("list", "", "Print every BPF map on the system: id, type, key and value size, max entries, flags, name.\n\nNeeds CAP_SYS_ADMIN: the kernel walks map ids only for it (CAP_BPF is not enough).", stdout)
	asJSON := fs.Bool("json", false, "print a JSON array (bpftool's field names)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"list takes no arguments"}
	}
	maps, err := listMaps()
	if err != nil {
		return needsSysAdmin(err, "list maps", needListIDs)
	}
	if *asJSON {
		if maps == nil {
			maps = []mapEntry{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(maps)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tKEY\tVALUE\tMAX ENTRIES\tFLAGS\tNAME")
	for _, m := range maps {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%#x\t%s\n", m.ID, m.Type, m.KeySize, m.ValueSize, m.MaxEntries, m.Flags, m.Name)
	}
	return tw.Flush()
}

// listMaps walks every map id with MAP_GET_NEXT_ID and describes each one.
// A map that goes away between the id walk and the open is left out.
func listMaps() ([]mapEntry, error) {
	var maps []mapEntry
	for id := uint32(0); ; {
		next, err := sys.MapGetNextID(id)
		if errors.Is(err, unix.ENOENT) {
			return maps, nil
		}
		if err != nil {
			return nil, err
		}
		id = next
		fd, err := sys.MapGetFDByID(id, 0)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("map %d: %w", id, err)
		}
		info, err := sys.MapGetInfo(fd)
		fd.Close()
		if err != nil {
			return nil, fmt.Errorf("map %d: %w", id, err)
		}
		maps = append(maps, mapEntry{
			ID: info.ID, Type: info.Type.String(), Name: info.NameString(), Flags: info.MapFlags,
			KeySize: info.KeySize, ValueSize: info.ValueSize, MaxEntries: info.MaxEntries,
		})
	}
}
