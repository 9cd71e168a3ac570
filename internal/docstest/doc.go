// Package docstest holds the test that compiles every Go code block of the
// repository's documentation (README.md, ARCHITECTURE.md,
// CONTRIBUTING.md and docs/*.md), so that what the pages show is what the
// packages offer. It has no code of its own.
package docstest
