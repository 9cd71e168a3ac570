package sys_test

import (
	"github.com/bpfmaps/bpfmaps/internal/asm"
)

// progsExitWithoutR0 is a program that exits without setting R0, which the
// verifier refuses with "R0 !read_ok".
func progsExitWithoutR0() []asm.Insn { return []asm.Insn{asm.Exit()} }
