package main

import (
	"fmt"

	"github.com/bpfmaps/bpfmaps/userringbuf"
)

// batchSize is how many samples one WriteBatch call writes in the batch
// producer row.
const batchSize = 16

// addBatchProducer adds the batch producer row: WriteBatch of batchSize
// 64-byte samples per call, through one reused [][]byte, on the bpfmaps
// user ring (drained untimed by the kernel like the single-sample row's).
// libbpf has no batch producer: the table compares this row with libbpf's
// one-at-a-time figure.
func addBatchProducer(add addFunc, p *userringbuf.Producer, drain func() error, want int, src []byte) error {
	batch := make([][]byte, batchSize)
	for i := range batch {
		batch[i] = src
	}
	want -= want % batchSize
	add("urb_batch", bpfmaps, drain, func() (int, error) {
		for done := 0; done < want; done += batchSize {
			n, err := p.WriteBatch(batch)
			if err != nil {
				return 0, fmt.Errorf("write batch: %d of %d samples: %w", n, len(batch), err)
			}
		}
		return want, nil
	})
	return nil
}
