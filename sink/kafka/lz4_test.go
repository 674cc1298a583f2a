package kafkasink

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go/compress"
)

func TestLz4WritesSmallBlocksThatDecode(t *testing.T) {
	codec := compress.Lz4.Codec()
	payload := []byte(strings.Repeat(`{"id":42,"name":"Ada Lovelace","city":"London"}`, 20000)) // ~1 MiB
	for round := range 3 {                                                                      // pooled writers keep their options
		var framed bytes.Buffer
		w := codec.NewWriter(&framed)
		if _, err := w.Write(payload); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		// Frame header: magic (4 bytes), FLG, BD; BD's bits 4–6 are the
		// block maximum size, 4 meaning 64 KiB (7: 4 MiB, lz4's default).
		b := framed.Bytes()
		if len(b) < 6 {
			t.Fatalf("round %d: frame of %d bytes", round, len(b))
		}
		if got := b[5] >> 4 & 7; got != 4 {
			t.Fatalf("round %d: block size index %d, want 4 (64 KiB)", round, got)
		}
		r := codec.NewReader(bytes.NewReader(b))
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("round %d: decode: %v", round, err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("round %d: decoded %d bytes, want the %d written", round, len(got), len(payload))
		}
	}
}
