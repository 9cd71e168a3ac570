package refs

import (
	"encoding/binary"
	"fmt"
)

// TEMPORARY until structcodec lands.
type binCodec[T any] struct{ size int }

func codecFor[T any]() (codec[T], error) {
	var v T
	n := binary.Size(v)
	if n < 0 {
		return nil, fmt.Errorf("not a fixed-size type")
	}
	return binCodec[T]{n}, nil
}
func (c binCodec[T]) Size() int { return c.size }
func (c binCodec[T]) Encode(dst []byte, v *T) error {
	_, err := binary.Encode(dst, binary.LittleEndian, v)
	return err
}
func (c binCodec[T]) Decode(src []byte, v *T) error {
	_, err := binary.Decode(src, binary.LittleEndian, v)
	return err
}
