package structcodec

import (
	"fmt"
	"io"
)

// A FieldError reports a field that has no C layout (found when a type is
// compiled) or a value that does not fit its field (found when encoding).
type FieldError struct {
	Op     string // "" when compiling a type, "encode" when encoding a value
	Field  string // the field's path from the type's name, e.g. "Event.Comm"
	Reason string // why, e.g. "unsupported kind *int (pointers have no C layout)"
}

// Error names the field (from its type) and why it has no C layout or
// why the value does not fit it.
func (e *FieldError) Error() string {
	if e.Op == "" {
		return "structcodec: " + e.Field + ": " + e.Reason
	}
	return "structcodec: " + e.Op + " " + e.Field + ": " + e.Reason
}

// A ShortBufferError reports a buffer smaller than the C size of the type.
// It matches io.ErrShortBuffer with errors.Is.
type ShortBufferError struct {
	Op   string // "encode" or "decode"
	Type string // the Go type's name
	Len  int    // the buffer's length
	Need int    // the C size of the type
}

// Error names the operation, the type and both lengths.
func (e *ShortBufferError) Error() string {
	return fmt.Sprintf("structcodec: %s %s: buffer of %d bytes, need %d", e.Op, e.Type, e.Len, e.Need)
}

// Unwrap returns io.ErrShortBuffer.
func (e *ShortBufferError) Unwrap() error { return io.ErrShortBuffer }

// StringTooLongError returns the error of encoding a cstring string field
// whose text of n bytes does not fit size bytes (or, when n is size, does
// not fit them with the NUL terminator its nul tag asks for). Generated
// MarshalBPF methods use it so that their errors equal the runtime codec's.
func StringTooLongError(field string, n, size int) error {
	if n == size {
		return &FieldError{Op: "encode", Field: field,
			Reason: fmt.Sprintf("text of %d bytes does not fit %d bytes with its NUL terminator", n, size)}
	}
	return &FieldError{Op: "encode", Field: field,
		Reason: fmt.Sprintf("text of %d bytes does not fit %d bytes", n, size)}
}

// StringNULError returns the error of encoding a cstring field whose text
// holds a NUL byte at index i: C would read the text as ending there.
func StringNULError(field string, i int) error {
	return &FieldError{Op: "encode", Field: field,
		Reason: fmt.Sprintf("text holds a NUL byte at index %d, C would cut it there", i)}
}

// UnterminatedError returns the error of encoding a cstring,nul [N]byte
// field whose N bytes hold no NUL terminator.
func UnterminatedError(field string, size int) error {
	return &FieldError{Op: "encode", Field: field,
		Reason: fmt.Sprintf("text fills all %d bytes, no room for the NUL terminator", size)}
}
