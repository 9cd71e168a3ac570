// Package bad has types that bpfcodegen must refuse, and a few it must
// accept.
package bad

import "time"

type Ptr struct {
	A   uint32
	Ptr *int
}

type Int struct{ N int }

type Unsized struct{ Name string }

type Inner struct{ M map[string]int }

type Nested struct {
	A     uint8
	Inner Inner
}

type Pinned struct {
	A uint64
	B uint32 `bpf:"offset=4"`
}

type Good struct{ A uint32 }

type Generic[T any] struct{ A T }

type Foreign struct{ T time.Time }

// Comma writes its tags as encoding/json users do, with an empty name.
type Comma struct {
	A uint16 `bpf:",be"`
	B uint32 `bpf:",offset=8,be"`
}
