// Command writeshapes writes shapes.go, random struct shapes for the
// generated-code tests.
package main

import (
	"log"
	"os"

	"github.com/bpfmaps/bpfmaps/structcodec/internal/shapes"
)

func main() {
	src, err := shapes.GoSource("codegentest", "writeshapes", shapes.Random(shapes.CheckedInSeed, shapes.CheckedInCount))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("shapes.go", src, 0o644); err != nil {
		log.Fatal(err)
	}
}
