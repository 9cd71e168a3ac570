package refs

import "fmt"

// codec turns values of T into the bytes of a map key or value and back.
// structcodec's codecs are codecs.
type codec[T any] interface {
	Size() int
	Encode(dst []byte, v *T) error
	Decode(src []byte, v *T) error
}

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
