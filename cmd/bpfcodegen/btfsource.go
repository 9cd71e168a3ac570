package main

import (
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/mapops"
)

// btfArgs are the command-line arguments of a generation from BTF.
type btfArgs struct {
	file, mapRef string   // the source: a BTF or ELF file, or a map
	types        []string // C names with file; Go names for key and value with mapRef
	pkg, dir     string
	methods      bool
	output       string
}

// generateBTF writes Go types for C types read from BTF, and returns the
// source and the file name to write it to.
func generateBTF(a btfArgs) ([]byte, string, error) {
	req := btfRequest{pkg: a.pkg, methods: a.methods}
	if req.pkg == "" {
		req.pkg = os.Getenv("GOPACKAGE") // set by go generate
	}
	if req.pkg == "" {
		abs, err := filepath.Abs(a.dir)
		if err != nil {
			return nil, "", err
		}
		req.pkg = strings.ReplaceAll(filepath.Base(abs), "-", "_")
	}
	if !token.IsIdentifier(req.pkg) {
		return nil, "", fmt.Errorf("package name %q is not a Go identifier: give one with -package", req.pkg)
	}
	cmd := []string{}
	if a.file != "" {
		spec, err := btf.LoadFile(a.file)
		if err != nil {
			return nil, "", err
		}
		req.spec = spec
		for _, name := range a.types {
			id, err := spec.TypeByName(strings.TrimSpace(name))
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", a.file, err)
			}
			req.ids = append(req.ids, id)
		}
		cmd = append(cmd, "-btf", filepath.ToSlash(a.file))
		if len(a.types) > 0 {
			cmd = append(cmd, "-type", strings.Join(a.types, ","))
		} else {
			req.ids, req.names = usedTypes(spec)
			if len(req.ids) == 0 {
				return nil, "", fmt.Errorf("%s: no map or global variable has a struct, union or enum type: name the types with -type", a.file)
			}
		}
	} else {
		types, err := mapTypes(a.mapRef)
		if err != nil {
			return nil, "", err
		}
		req.spec = types.Spec
		if len(a.types) > 2 {
			return nil, "", fmt.Errorf("-type with -map names at most two Go types, the key's and the value's")
		}
		for i, id := range []btf.TypeID{types.Key, types.Value} {
			name := ""
			if i < len(a.types) {
				name = a.types[i]
			}
			if id == 0 || !composite(types.Spec, id) {
				continue // an integer key needs no type of its own
			}
			if name == "" && anonymous(types.Spec, id) {
				name = [2]string{"Key", "Value"}[i]
			}
			req.ids = append(req.ids, id)
			req.names = append(req.names, name)
		}
		if len(req.ids) == 0 {
			return nil, "", fmt.Errorf("map %s: neither its key nor its value is a struct, union or enum", a.mapRef)
		}
		cmd = append(cmd, "-map", a.mapRef)
		if len(a.types) > 0 {
			cmd = append(cmd, "-type", strings.Join(a.types, ","))
		}
	}
	if a.pkg != "" {
		cmd = append(cmd, "-package", a.pkg)
	}
	if a.methods {
		cmd = append(cmd, "-methods")
	}
	req.command = strings.Join(cmd, " ")
	src, err := GenerateFromBTF(req)
	if err != nil {
		return nil, "", err
	}
	out := a.output
	if out == "" {
		first := "types"
		if len(a.types) > 0 {
			first = strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(a.types[0], "struct "), "union "))
		}
		out = first + "_btf.go"
	}
	return src, out, nil
}

// mapTypes opens the map ref names and returns its BTF.
func mapTypes(ref string) (*btf.MapTypes, error) {
	var (
		m   *mapops.Map
		err error
	)
	if n, ok := strings.CutPrefix(ref, "id:"); ok || !strings.Contains(ref, "/") {
		id, perr := strconv.ParseUint(n, 10, 32)
		if perr != nil {
			return nil, fmt.Errorf("bad map %q: want id:N or a pinned path", ref)
		}
		m, err = mapops.OpenID(uint32(id))
	} else {
		m, err = mapops.Open(ref)
	}
	if err != nil {
		return nil, err
	}
	defer m.Close()
	info, err := m.Info()
	if err != nil {
		return nil, err
	}
	types, err := btf.LoadMap(info)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", ref, err)
	}
	return types, nil
}

// composite reports whether id names (through typedefs) a struct, union
// or enum, which become Go types of their own.
func composite(spec *btf.Spec, id btf.TypeID) bool {
	rid, err := spec.Resolve(id)
	if err != nil {
		return false
	}
	t, _ := spec.Type(rid)
	switch t.Kind {
	case btf.KindStruct, btf.KindUnion, btf.KindEnum, btf.KindEnum64:
		return true
	}
	return false
}

// anonymous reports whether id has no C name, neither its own nor a
// typedef's.
func anonymous(spec *btf.Spec, id btf.TypeID) bool {
	t, err := spec.Type(id)
	return err == nil && t.Name == ""
}

// usedTypes returns the structs, unions and enums that the maps (the
// key and value of each variable of the .maps section) and the global
// variables (.bss, .data, .rodata, …) of an object use, in the order of
// their sections, with a Go name for those that have no C name: the map's
// or the variable's, exported, with Key or Value for a map; then the
// global data sections themselves.
func usedTypes(spec *btf.Spec) ([]btf.TypeID, []string) {
	var (
		ids   []btf.TypeID
		names []string
		seen  = map[btf.TypeID]bool{}
	)
	add := func(id btf.TypeID, name string) {
		id = elemType(spec, id)
		rid, err := spec.Resolve(id)
		if err != nil || !composite(spec, id) || seen[rid] {
			return
		}
		seen[rid] = true
		if !anonymous(spec, id) {
			name = ""
		}
		ids = append(ids, id)
		names = append(names, name)
	}
	var sections []btf.TypeID
	for id, t := range spec.All() {
		if t.Kind != btf.KindDatasec {
			continue
		}
		if t.Size > 0 && len(t.Vars) > 0 && (strings.HasPrefix(t.Name, ".bss") || strings.HasPrefix(t.Name, ".data") || strings.HasPrefix(t.Name, ".rodata")) {
			sections = append(sections, id)
		}
		for _, v := range t.Vars {
			vt, err := spec.Type(v.Type)
			if err != nil || vt.Kind != btf.KindVar {
				continue
			}
			if t.Name != ".maps" {
				add(vt.Ref, exported(vt.Name))
				continue
			}
			// A map definition: struct { int (*type)[N]; … T *key; T *value; }.
			def, err := spec.Resolve(vt.Ref)
			if err != nil {
				continue
			}
			dt, _ := spec.Type(def)
			for _, m := range dt.Members {
				if m.Name != "key" && m.Name != "value" {
					continue
				}
				if pt, err := spec.Type(m.Type); err == nil && pt.Kind == btf.KindPtr {
					add(pt.Ref, exported(vt.Name)+exported(m.Name))
				}
			}
		}
	}
	for _, id := range sections {
		ids = append(ids, id)
		names = append(names, "")
	}
	return ids, names
}

// elemType returns the element type of an array type (of arrays), else
// id itself.
func elemType(spec *btf.Spec, id btf.TypeID) btf.TypeID {
	for range btf.MaxDepth {
		rid, err := spec.Resolve(id)
		if err != nil {
			return id
		}
		t, _ := spec.Type(rid)
		if t.Kind != btf.KindArray {
			return id
		}
		id = t.Ref
	}
	return id
}
