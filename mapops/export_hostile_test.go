package mapops

// Hooks for the hostile-input table (hostile_test.go).

// SeedCursor gives c buffers the test owns, so that it can guard them
// with canary bytes: in and out are the position tokens, keys and vals
// the entry buffers. The cursor keeps buffers that are large enough.
func SeedCursor(c *Cursor, in, out, keys, vals []byte) {
	c.pos.in, c.pos.out, c.pos.keys, c.pos.vals = in, out, keys, vals
}

// CursorState returns the count c tells the kernel next and how many
// entries of m its key and value buffers hold.
func CursorState(c *Cursor, m *Map) (count, keyRoom, valRoom int) {
	return c.pos.count, len(c.pos.keys) / max(m.keySize, 1), len(c.pos.vals) / max(m.valueBuf, 1)
}
