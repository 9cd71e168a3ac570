// Package vmtests holds end-to-end tests that cross packages and make sense
// on every kernel of the matrix that scripts/vmtest.sh boots in QEMU
// (Debian's 5.10, 6.1, 6.12 and newest). They run on the host too, like any
// other package's tests. A test that needs a newer kernel skips through a
// feature probe, with the reason, and runs wherever the kernel has it.
package vmtests
