package btf

// kindStruct is BTF_KIND_STRUCT.
const kindStruct = 4

// Member is one field of a Struct: its name, type and offset in bytes.
type Member struct {
	Name   string
	Type   TypeID
	Offset uint32
}

// Struct adds a struct of size bytes. A map value whose BTF holds a
// "bpf_spin_lock" struct member is what the BPF_F_LOCK flag needs.
func (b *Builder) Struct(name string, size uint32, members ...Member) TypeID {
	extra := make([]uint32, 0, 3*len(members))
	for _, m := range members {
		extra = append(extra, b.name(m.Name), uint32(m.Type), m.Offset*8) // offsets are in bits
	}
	return b.add(name, kindStruct, uint32(len(members)), size, extra...)
}
