package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/bpfmaps/bpfmaps/mapops"
)

// bytesHelp documents how keys and values are written on the command line;
// every command that takes one prints it in its --help.
const bytesHelp = `Keys and values are one argument each, a list of tokens separated by spaces:
  0a 0b 0c 0d     hex bytes, in memory order (as in a hex dump)
  0x0a0b0c0d      the same bytes, 0x-prefixed: also in memory order, not a number
  u32:7           an integer of a fixed width in host byte order, as C on
                  this machine stores it: u8 u16 u32 u64, i8 i16 i32 i64;
                  be16 be32 be64 for big-endian (network order);
                  decimal, or 0x-prefixed hex, e.g. u16:0xffff
Tokens concatenate: "u32:7 u32:1" is an 8-byte key. With --key-int or
--value-int a bare decimal integer is sized to the map's key or value
(host byte order). With --layout (or --key-layout) the argument is
field=value pairs separated by commas, e.g. "pid=42,comm=bash,addr=10.0.0.1".`

// parseBytes turns a key or value argument into bytes; see bytesHelp.
func parseBytes(s string) ([]byte, error) {
	var out []byte
	tokens := strings.Fields(s)
	if len(tokens) == 0 {
		return nil, fmt.Errorf("empty bytes %q", s)
	}
	for _, tok := range tokens {
		if kind, num, ok := strings.Cut(tok, ":"); ok {
			b, err := parseSizedInt(kind, num)
			if err != nil {
				return nil, err
			}
			out = append(out, b...)
			continue
		}
		digits := strings.TrimPrefix(strings.TrimPrefix(tok, "0x"), "0X")
		if len(digits)%2 != 0 && isHex(digits) {
			return nil, fmt.Errorf("malformed hex %q: odd number of digits (for an integer write u32:%s, or use --key-int/--value-int)", tok, tok)
		}
		b, err := hex.DecodeString(digits)
		if err != nil || digits == "" {
			return nil, fmt.Errorf("malformed hex %q: want hex byte pairs like 0a or 0x0a0b, or a sized integer like u32:7", tok)
		}
		out = append(out, b...)
	}
	return out, nil
}

// intKinds maps the sized integer forms to their width, signedness and
// byte order.
var intKinds = map[string]struct {
	size   int
	signed bool
	big    bool
}{
	"u8": {1, false, false}, "u16": {2, false, false}, "u32": {4, false, false}, "u64": {8, false, false},
	"i8": {1, true, false}, "i16": {2, true, false}, "i32": {4, true, false}, "i64": {8, true, false},
	"be16": {2, false, true}, "be32": {4, false, true}, "be64": {8, false, true},
}

// parseSizedInt encodes num as the integer form kind ("u32", "be16", …).
func parseSizedInt(kind, num string) ([]byte, error) {
	k, ok := intKinds[kind]
	if !ok {
		return nil, fmt.Errorf("unknown integer form %q in %q: want u8, u16, u32, u64, i8, i16, i32, i64, be16, be32 or be64", kind, kind+":"+num)
	}
	var v uint64
	if k.signed {
		n, err := strconv.ParseInt(num, 0, k.size*8)
		if err != nil {
			return nil, fmt.Errorf("bad %s integer %q: %v", kind, num, numErr(err))
		}
		v = uint64(n)
	} else {
		n, err := strconv.ParseUint(num, 0, k.size*8)
		if err != nil {
			return nil, fmt.Errorf("bad %s integer %q: %v", kind, num, numErr(err))
		}
		v = n
	}
	return putInt(v, k.size, k.big), nil
}

// parseSizedTo encodes a bare integer (decimal or 0x hex, optionally
// negative) as an integer of size bytes in host byte order.
func parseSizedTo(s string, size int) ([]byte, error) {
	if size != 1 && size != 2 && size != 4 && size != 8 {
		return nil, fmt.Errorf("an integer needs a size of 1, 2, 4 or 8 bytes, not %d", size)
	}
	s = strings.TrimSpace(s)
	var v uint64
	if strings.HasPrefix(s, "-") {
		n, err := strconv.ParseInt(s, 0, size*8)
		if err != nil {
			return nil, fmt.Errorf("bad %d-byte integer %q: %v", size, s, numErr(err))
		}
		v = uint64(n)
	} else {
		n, err := strconv.ParseUint(s, 0, size*8)
		if err != nil {
			return nil, fmt.Errorf("bad %d-byte integer %q: %v", size, s, numErr(err))
		}
		v = n
	}
	return putInt(v, size, false), nil
}

func numErr(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}

func putInt(v uint64, size int, big bool) []byte {
	b := make([]byte, 8)
	if big {
		binary.BigEndian.PutUint64(b, v)
		return b[8-size:]
	}
	b = b[:size]
	if size < 8 {
		v &= 1<<(8*size) - 1 // a negative number's two's complement in size bytes
	}
	mapops.PutUint(b, v) // fits: masked to size bytes
	return b
}

// hexBytes formats b as bpftool does in its text dumps: "0a 0b 0c".
func hexBytes(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(hex.EncodeToString([]byte{c}))
	}
	return sb.String()
}

// jsonBytes is b as bpftool's JSON writes it: an array of "0x0a" strings.
func jsonBytes(b []byte) []string {
	out := make([]string, len(b))
	for i, c := range b {
		out[i] = fmt.Sprintf("0x%02x", c)
	}
	return out
}

// hostUint reads b as an unsigned integer in host byte order; ok is false
// unless b is 1, 2, 4 or 8 bytes long.
func hostUint(b []byte) (uint64, bool) {
	if n := len(b); n != 1 && n != 2 && n != 4 && n != 8 {
		return 0, false
	}
	v, err := mapops.Uint(b)
	return v, err == nil
}

// isHex reports whether s is hex digits only.
func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
