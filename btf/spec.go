package btf

import (
	"encoding/binary"
	"fmt"
	"iter"
	"strings"
	"sync"
)

// MaxDepth bounds every walk over BTF types in this module: chains of
// typedefs and qualifiers, and structs, unions, arrays and variables
// nested in one another, each step counting one. A longer chain is taken
// for a loop or hostile BTF and refused with an error, never followed
// until the stack runs out. It is twice the kernel's MAX_RESOLVE_DEPTH
// (32), which bounds the chains the kernel follows while it loads BTF:
// the kernel resolves types in order of their ids, so the types it
// accepts can nest deeper than 32 when read from the top.
const MaxDepth = 64

// ByteOrder returns the byte order the blob was written in.
func (s *Spec) ByteOrder() binary.ByteOrder { return s.order }

// Base returns the base of split BTF, or nil.
func (s *Spec) Base() *Spec { return s.base }

// FirstID returns the id of the spec's own first type: 1 for base BTF, one
// past the base's last id for split BTF.
func (s *Spec) FirstID() TypeID {
	if s.base == nil {
		return 1
	}
	return s.first
}

// NumTypes returns how many types the blob itself holds, not counting void
// or a base's types: what `bpftool btf dump` lists.
func (s *Spec) NumTypes() int {
	if s.base == nil {
		return len(s.offs) - 1
	}
	return len(s.offs)
}

// MaxID returns the largest valid type id, the base's included.
func (s *Spec) MaxID() TypeID { return s.end() - 1 }

// Type returns the type with the given id, which may be the base's. Id 0
// is void. The Type must not be modified.
func (s *Spec) Type(id TypeID) (*Type, error) {
	for ; s != nil; s = s.base {
		if id >= s.first {
			if id >= s.end() {
				return nil, fmt.Errorf("btf: no type %d (the last is %d)", id, s.end()-1)
			}
			return s.at(uint32(id - s.first)), nil
		}
	}
	return nil, fmt.Errorf("btf: no type %d", id)
}

// typ is Type for ids known to be valid.
func (s *Spec) typ(id TypeID) *Type {
	for id < s.first {
		s = s.base
	}
	return s.at(uint32(id - s.first))
}

// All iterates over the spec's own types in id order (not the base's, not
// void).
func (s *Spec) All() iter.Seq2[TypeID, *Type] {
	return func(yield func(TypeID, *Type) bool) {
		s.decodeAll()
		for i := range s.offs {
			id := s.first + TypeID(i)
			if id == 0 {
				continue
			}
			if !yield(id, s.at(uint32(i))) {
				return
			}
		}
	}
}

type nameIndex struct {
	once sync.Once
	ids  map[string][]TypeID
}

// ByName returns the ids of every type named name, the base's first, in
// id order. Builds an index on first use.
func (s *Spec) ByName(name string) []TypeID {
	var ids []TypeID
	if s.base != nil {
		ids = s.base.ByName(name)
	}
	s.names.once.Do(func() {
		// Straight from the raw types: looking names up decodes none.
		s.names.ids = make(map[string][]TypeID)
		for i, o := range s.offs {
			id := s.first + TypeID(i)
			if id == 0 {
				continue
			}
			if name := s.stringAt(s.u32(o)); name != "" {
				s.names.ids[name] = append(s.names.ids[name], id)
			}
		}
	})
	own := s.names.ids[name]
	if len(ids) == 0 {
		return own
	}
	return append(ids[:len(ids):len(ids)], own...)
}

// Lookup returns the one type named name of the given kind (struct, union,
// typedef, …); it fails when there is none or more than one.
func (s *Spec) Lookup(name string, kind Kind) (TypeID, error) {
	var found []TypeID
	for _, id := range s.ByName(name) {
		if k, _ := s.kindRef(id); k == kind {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("btf: no %s named %q", kind, name)
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("btf: %d types are %s %q (ids %v)", len(found), kind, name, found)
}

// skippable reports the kinds Resolve looks through.
func skippable(k Kind) bool {
	switch k {
	case KindTypedef, KindVolatile, KindConst, KindRestrict, KindTypeTag:
		return true
	}
	return false
}

// Resolve follows typedefs, qualifiers (const, volatile, restrict) and
// type tags from id to the type they name, and returns its id.
func (s *Spec) Resolve(id TypeID) (TypeID, error) { return s.ResolveFunc(id, nil) }

// ResolveFunc is Resolve that calls visit, unless it is nil, with each
// typedef, qualifier and type tag it follows, in order: for callers that
// care which typedef named a type (its Go name, a __be16's byte order).
// It is the one walk along such chains, bounded by MaxDepth.
func (s *Spec) ResolveFunc(id TypeID, visit func(TypeID, *Type)) (TypeID, error) {
	for range MaxDepth {
		t, err := s.Type(id)
		if err != nil {
			return 0, err
		}
		if !skippable(t.Kind) {
			return id, nil
		}
		if visit != nil {
			visit(id, t)
		}
		id = t.Ref
	}
	return 0, fmt.Errorf("btf: type %d: more than %d typedefs and qualifiers in a row (a loop?)", id, MaxDepth)
}

// Size returns the size in bytes of the type with the given id, as C's
// sizeof: typedefs and qualifiers resolved, arrays multiplied out,
// pointers 8 bytes (BPF is a 64-bit target), variables the size of their
// type. Void, functions and forward declarations have no size.
func (s *Spec) Size(id TypeID) (uint32, error) {
	n, err := s.size(id, 0)
	return uint32(n), err
}

// resolveAt is Resolve for a type nested depth levels deep in another.
func (s *Spec) resolveAt(id TypeID, depth int) (TypeID, *Type, error) {
	if depth > MaxDepth {
		return 0, nil, fmt.Errorf("btf: type %d: nested more than %d deep (a loop?)", id, MaxDepth)
	}
	rid, err := s.Resolve(id)
	if err != nil {
		return 0, nil, err
	}
	return rid, s.typ(rid), nil
}

func (s *Spec) size(id TypeID, depth int) (uint64, error) {
	rid, t, err := s.resolveAt(id, depth)
	if err != nil {
		return 0, err
	}
	switch t.Kind {
	case KindInt, KindStruct, KindUnion, KindEnum, KindEnum64, KindFloat, KindDatasec:
		return uint64(t.Size), nil
	case KindPtr:
		return 8, nil
	case KindVar:
		return s.size(t.Ref, depth+1)
	case KindArray:
		e, err := s.size(t.Ref, depth+1)
		if err != nil {
			return 0, err
		}
		n := e * uint64(t.Len)
		if t.Len != 0 && n/uint64(t.Len) != e || n > 0xffffffff {
			return 0, fmt.Errorf("btf: type %d: array of %d elements of %d bytes overflows 32 bits", rid, t.Len, e)
		}
		return n, nil
	}
	return 0, fmt.Errorf("btf: type %d (%s) has no size", rid, t.Describe())
}

// Align returns the alignment in bytes of the type with the given id, as
// C's _Alignof on a 64-bit target: a struct's is its largest member's, or
// 1 when its members sit at offsets only a packed struct has.
func (s *Spec) Align(id TypeID) (uint32, error) {
	return s.align(id, 0, nil)
}

// align computes alignments; memo caches those of structs and unions, so
// that each is computed once however often it is nested.
func (s *Spec) align(id TypeID, depth int, memo map[TypeID]uint32) (uint32, error) {
	rid, t, err := s.resolveAt(id, depth)
	if err != nil {
		return 0, err
	}
	switch t.Kind {
	case KindInt, KindFloat, KindEnum, KindEnum64:
		return min(max(t.Size, 1), 8), nil
	case KindPtr:
		return 8, nil
	case KindArray:
		return s.align(t.Ref, depth+1, memo)
	case KindStruct, KindUnion:
		if a, ok := memo[rid]; ok {
			if a == 0 {
				return 0, fmt.Errorf("btf: type %d (%s) contains itself", rid, t.Describe())
			}
			return a, nil
		}
		if memo == nil {
			memo = make(map[TypeID]uint32)
		}
		memo[rid] = 0 // in progress
		a := uint32(1)
		packed := false
		for i := range t.Members {
			m := &t.Members[i]
			ma, err := s.align(m.Type, depth+1, memo)
			if err != nil {
				return 0, err
			}
			if !m.Bitfield() && (m.BitOffset/8)%ma != 0 {
				packed = true
			}
			a = max(a, ma)
		}
		if packed || t.Size%a != 0 {
			a = 1
		}
		memo[rid] = a
		return a, nil
	}
	return 0, fmt.Errorf("btf: type %d (%s) has no alignment", rid, t.Describe())
}

// Name returns a C spelling of the type with the given id: "struct flow",
// "__u32", "char[16]", "struct flow *".
func (s *Spec) Name(id TypeID) string {
	return s.name(id, 0)
}

func (s *Spec) name(id TypeID, depth int) string {
	t, err := s.Type(id)
	if err != nil || depth > MaxDepth {
		return fmt.Sprintf("type %d", id)
	}
	switch t.Kind {
	case KindUnknown:
		return "void"
	case KindArray:
		// C writes the outer length first: __u16[3][4].
		dims := fmt.Sprintf("[%d]", t.Len)
		elem := t.Ref
		for ; depth < MaxDepth; depth++ {
			e, err := s.Type(elem)
			if err != nil || e.Kind != KindArray {
				break
			}
			dims += fmt.Sprintf("[%d]", e.Len)
			elem = e.Ref
		}
		return s.name(elem, depth+1) + dims
	case KindPtr:
		return s.name(t.Ref, depth+1) + " *"
	case KindConst, KindVolatile, KindRestrict:
		return t.Kind.String() + " " + s.name(t.Ref, depth+1)
	case KindTypeTag:
		return s.name(t.Ref, depth+1)
	}
	return t.Describe()
}

// TypeByName finds the type that a C name means: a struct, union, enum or
// typedef of that name, tried in that order; "struct x", "union x" and
// "enum x" ask for one kind, and a name that starts with a dot (.bss,
// .data, .rodata) the DATASEC of that global data section. The error for
// a name that is not there says why clang may have left it out.
func (s *Spec) TypeByName(name string) (TypeID, error) {
	kinds := []Kind{KindStruct, KindUnion, KindEnum, KindEnum64, KindTypedef}
	if k, rest, ok := strings.Cut(name, " "); ok {
		switch k {
		case "struct":
			kinds = []Kind{KindStruct}
		case "union":
			kinds = []Kind{KindUnion}
		case "enum":
			kinds = []Kind{KindEnum, KindEnum64}
		default:
			return 0, fmt.Errorf("bad type name %q: want name, struct name, union name or enum name", name)
		}
		name = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(name, ".") {
		// A global data section (.bss, .data, .rodata): its DATASEC.
		if id, err := s.Lookup(name, KindDatasec); err == nil {
			return id, nil
		}
		return 0, fmt.Errorf("no section %q in the BTF: an object has .bss, .data and .rodata only when it has global variables of that kind", name)
	}
	for _, k := range kinds {
		id, err := s.Lookup(name, k)
		if err == nil {
			return id, nil
		}
		if strings.Contains(err.Error(), "types are") {
			return 0, err // ambiguous
		}
	}
	keyword := "struct"
	if len(kinds) <= 2 {
		keyword = strings.TrimSuffix(kinds[0].String(), "64")
	}
	return 0, fmt.Errorf("no %s named %q in the BTF (clang keeps in a BPF object only the types that its maps, "+
		"global variables and functions use; to keep this one, use it so, e.g. with a global of that type or "+
		"\"%s %s *unused __attribute__((unused));\" in the C source)", kindList(kinds), name, keyword, name)
}

func kindList(kinds []Kind) string {
	if len(kinds) > 2 {
		return "struct, union, enum or typedef"
	}
	return kinds[0].String()
}

// Fields yields the members of struct or union t as C code reaches them:
// its named members, and in place of each anonymous struct or union
// member (C11) that one's members, recursively, with BitOffset counted
// from the start of t. Unnamed members of other kinds (bitfield padding)
// are left out. It descends at most MaxDepth levels; it is the one walk
// over anonymous members, for finding a member by name and listing the
// names C knows.
func (s *Spec) Fields(t *Type) iter.Seq[Member] {
	return func(yield func(Member) bool) {
		s.fields(t, 0, 0, yield)
	}
}

func (s *Spec) fields(t *Type, base uint32, depth int, yield func(Member) bool) bool {
	for _, m := range t.Members {
		m.BitOffset += base
		if m.Name != "" {
			if !yield(m) {
				return false
			}
			continue
		}
		rid, err := s.Resolve(m.Type)
		if err != nil || depth >= MaxDepth {
			continue
		}
		if at := s.typ(rid); at.Kind == KindStruct || at.Kind == KindUnion {
			if !s.fields(at, m.BitOffset, depth+1, yield) {
				return false
			}
		}
	}
	return true
}
