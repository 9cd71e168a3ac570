package mapops

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// BTF returns the types the map was created with: the parsed BTF object
// and the ids of the key and value types in it (0 where the map names
// none, as for the keys of queues). A map without BTF gives a nil spec and
// no error.
func (m *Map) BTF() (spec *btf.Spec, key, value btf.TypeID, err error) {
	info, err := m.Info()
	if err != nil || info.BTFID == 0 {
		return nil, 0, 0, err
	}
	types, err := btf.LoadMap(info)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", m, err)
	}
	return types.Spec, types.Key, types.Value, nil
}

// TypedOption changes how NewTyped holds K and V against the C types of
// the map's keys and values. Options are functions, as everywhere in the
// module: SkipBTFCheck(), AllowUnreadableBTF() and CheckBTF(...) return
// them, and they apply in order.
type TypedOption func(*typedSettings)

// typedSettings are what the TypedOptions set.
type typedSettings struct {
	skip       bool       // SkipBTFCheck
	unreadable bool       // AllowUnreadableBTF
	spec       *btf.Spec  // CheckBTF
	key, value btf.TypeID // CheckBTF
}

// SkipBTFCheck makes NewTyped trust K and V without holding them against
// any BTF: for Go types that knowingly differ from the C types the map
// declares (a byte array over a struct the program never reads, say).
// The sizes are still checked.
func SkipBTFCheck() TypedOption {
	return func(s *typedSettings) { s.skip = true }
}

// AllowUnreadableBTF makes NewTyped proceed with the sizes checked only
// when the map has BTF that this process may not read. The kernel hands a
// map's BTF out by id only to CAP_SYS_ADMIN (BPF_BTF_GET_FD_BY_ID), so a
// process with CAP_BPF alone cannot check its types against it. Without
// this option, or CheckBTF, NewTyped fails there with an error that says
// so, rather than accept types a privileged process would refuse.
func AllowUnreadableBTF() TypedOption {
	return func(s *typedSettings) { s.unreadable = true }
}

// CheckBTF makes NewTyped hold K against type key and V against type value
// of spec, instead of the map's own BTF: for example the BTF of the object
// file that declares the map (btf.LoadELFFile, then spec.Lookup for the
// ids), which needs no privilege to read. A zero id leaves that side
// unchecked. A nil spec leaves the map's own BTF in use.
func CheckBTF(spec *btf.Spec, key, value btf.TypeID) TypedOption {
	return func(s *typedSettings) {
		if spec != nil {
			s.spec, s.key, s.value = spec, key, value
		}
	}
}

// checkBTF holds the layouts of K and V against the key and value types of
// the BTF opts name, or else of the map's own BTF. A map without BTF
// passes. A map whose BTF this process may not read fails, unless opts
// allow that (see AllowUnreadableBTF).
func (m *Map) checkBTF(key, value *structcodec.Layout, opts []TypedOption) error {
	var o typedSettings
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.skip {
		return nil
	}
	spec, kid, vid := o.spec, o.key, o.value
	if spec == nil {
		var err error
		spec, kid, vid, err = m.BTF()
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			if o.unreadable {
				return nil
			}
			return fmt.Errorf("%s: cannot check the key and value types against the map's BTF, which only CAP_SYS_ADMIN may read: "+
				"pass mapops.CheckBTF with the BTF of the object file that declares the map, "+
				"or mapops.AllowUnreadableBTF() to check sizes only: %w", m, err)
		}
		if err != nil {
			return fmt.Errorf("%w (mapops.SkipBTFCheck() skips the BTF check)", err)
		}
		if spec == nil {
			return nil
		}
	}
	if kid != 0 {
		if err := btf.Check(key, spec, kid); err != nil {
			return fmt.Errorf("%s: key: %w", m, err)
		}
	}
	if vid != 0 {
		if err := btf.Check(value, spec, vid); err != nil {
			return fmt.Errorf("%s: value: %w", m, err)
		}
	}
	return nil
}

// attachTypes loads BTF for spec.KeyType and spec.ValueType into the
// kernel and points attr at it; the caller calls done once the map exists,
// which closes the BTF descriptor (the map keeps the BTF alive). Without
// types it does nothing.
func (spec *Spec) attachTypes(attr *sys.MapCreateAttr) (done func(), err error) {
	if spec.KeyType == nil && spec.ValueType == nil {
		return func() {}, nil
	}
	if spec.BTF != nil {
		return nil, errors.New("KeyType and ValueType generate BTF; they cannot be combined with Spec.BTF")
	}
	var b btf.Builder
	add := func(l *structcodec.Layout, what string, size *uint32, id *uint32) error {
		if l == nil {
			return nil
		}
		if *size == 0 {
			*size = uint32(l.Size())
		} else if *size != uint32(l.Size()) {
			return fmt.Errorf("%s type %s is %d bytes, the spec says %d", what, l.Type(), l.Size(), *size)
		}
		tid, err := b.AddLayout(l)
		*id = uint32(tid)
		return err
	}
	if err := add(spec.KeyType, "key", &attr.KeySize, &attr.BTFKeyTypeID); err != nil {
		return nil, err
	}
	if err := add(spec.ValueType, "value", &attr.ValueSize, &attr.BTFValueTypeID); err != nil {
		return nil, err
	}
	raw, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	fd, err := sys.BTFLoad(raw)
	if err != nil {
		return nil, fmt.Errorf("load BTF of the key and value types: %w", err)
	}
	num, err := fd.Acquire()
	if err != nil {
		fd.Close()
		return nil, err
	}
	attr.BTFFD = uint32(num)
	return func() {
		fd.Release()
		fd.Close()
	}, nil
}
