package asm

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// TestInsnAgainstGCC holds the encoding of instructions to the bytes gcc
// gives struct bpf_insn from linux/bpf.h with the same fields: the register
// nibbles are C bit fields, whose order follows the machine's byte order,
// and off and imm are in host order. In the kernel matrix it runs on
// big-endian s390x too (the C program is compiled there ahead of time).
func TestInsnAgainstGCC(t *testing.T) {
	cases := []struct {
		insn                     Insn
		dst, src, code, off, imm string
	}{
		{Mov64Reg(R1, R6), "1", "6", "0xbf", "0", "0"},
		{StMem(W, R10, -4, 0x01020304), "10", "0", "0x62", "-4", "0x01020304"},
		{LdxMem(DW, R0, R9, 0x1234), "0", "9", "0x79", "0x1234", "0"},
		{JmpReg(0x1d, R2, R3, -7), "2", "3", "0x1d", "-7", "0"},
	}
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <linux/bpf.h>\n\nint main(void) {\n")
	for i, c := range cases {
		fmt.Fprintf(&src, "\t{\n\tstruct bpf_insn i = {.code = %s, .dst_reg = %s, .src_reg = %s, .off = %s, .imm = %s};\n",
			c.code, c.dst, c.src, c.off, c.imm)
		fmt.Fprintf(&src, "\tconst unsigned char *b = (const void *)&i;\n\tprintf(\"%d \");\n", i)
		src.WriteString("\tfor (unsigned k = 0; k < sizeof i; k++)\n\t\tprintf(\"%02x\", b[k]);\n\tprintf(\"\\n\");\n\t}\n")
	}
	src.WriteString("\treturn 0;\n}\n")
	out := strings.Fields(string(testutil.RunC(t, src.String(), "-Wall", "-Werror")))
	if len(out) != 2*len(cases) {
		t.Fatalf("C output %q: want %d lines", out, len(cases))
	}
	for i, c := range cases {
		got := hex.EncodeToString(unsafe.Slice((*byte)(unsafe.Pointer(&c.insn)), unsafe.Sizeof(c.insn)))
		if want := out[2*i+1]; got != want {
			t.Errorf("instruction %d (code %s dst %s src %s off %s imm %s): bytes %s, gcc %s",
				i, c.code, c.dst, c.src, c.off, c.imm, got, want)
		}
	}
}
