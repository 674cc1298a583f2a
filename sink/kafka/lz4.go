package kafkasink

import (
	"io"
	"sync"

	"github.com/pierrec/lz4/v4"
	"github.com/segmentio/kafka-go/compress"
)

// kafka-go's lz4 codec frames every produce batch with lz4's default 4 MiB
// blocks: each writer holds a 4 MiB buffer, sync.Pool drops the pooled ones
// at every GC, and a catch-up then spends a tenth of its CPU allocating and
// zeroing fresh ones (runtime.memclrNoHeapPointers under lz4block in the
// bench's profile), and they are the biggest share of the live heap. Our
// batches are at most batch_bytes (1 MiB by default) before compression,
// so 64 KiB blocks — the block size Kafka's own Java producer writes —
// cost nothing in ratio. kafka-go looks codecs up in compress.Codecs, the
// only place to put one of our own; readers are unchanged (any block size
// decodes).
func init() {
	compress.Codecs[compress.Lz4] = &lz4Codec{Codec: compress.Codecs[compress.Lz4]}
}

var lz4Writers sync.Pool

// lz4Codec is kafka-go's lz4 codec with writers that use 64 KiB blocks.
type lz4Codec struct {
	compress.Codec // Code, Name and NewReader
}

func (c *lz4Codec) NewWriter(w io.Writer) io.WriteCloser {
	z, _ := lz4Writers.Get().(*lz4.Writer)
	if z == nil {
		z = lz4.NewWriter(w)
		// The options are valid constants: Apply cannot fail.
		_ = z.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ConcurrencyOption(1))
	}
	z.Reset(w)
	return &lz4Writer{Writer: z}
}

type lz4Writer struct{ *lz4.Writer }

func (w *lz4Writer) Close() error {
	z := w.Writer
	if z == nil {
		return nil
	}
	w.Writer = nil
	err := z.Close()
	z.Reset(nil)
	lz4Writers.Put(z)
	return err
}
