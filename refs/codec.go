package refs

import (
	"fmt"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// codec turns values of T into the bytes of a map key or value and back.
// It is structcodec's concrete codec, not an interface, so that values
// passed to it by pointer stay on the caller's stack.
type codec[T any] = *structcodec.Codec[T]

func codecFor[T any]() (codec[T], error) { return structcodec.For[T]() }

// sizedCodec returns the codec of T and checks that its size is want, the
// map's key or value size.
func sizedCodec[T any](what string, want int) (codec[T], error) {
	c, err := codecFor[T]()
	if err != nil {
		return nil, fmt.Errorf("%s type %T: %w", what, *new(T), err)
	}
	if c.Size() != want {
		return nil, fmt.Errorf("%s type %T is %d bytes, the map's %s size is %d", what, *new(T), c.Size(), what, want)
	}
	return c, nil
}

// encodeString returns v's bytes as a string, for use as a map key in Go.
func encodeString[T any](c codec[T], v *T) (string, error) {
	b := make([]byte, c.Size())
	if err := c.Encode(b, v); err != nil {
		return "", err
	}
	return string(b), nil
}
