package toastcache

import (
	"bytes"
	"fmt"
	"testing"
)

func openTest(t *testing.T, dir string) *DB {
	t.Helper()
	d, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func big(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }

func TestPutGetDelete(t *testing.T) {
	t.Parallel()
	c, err := openTest(t, t.TempDir()).Cache("src", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{At: Order{LSN: 10, Index: 2}, Type: "text", Value: big(3000, 'a')}
	if ok, err := c.Put("public.t", "k1", "body", e); err != nil || !ok {
		t.Fatalf("Put = %v, %v", ok, err)
	}
	c.Put("public.t", "k1", "other", e)
	c.Put("public.t", "k2", "body", e)
	got, ok, err := c.Get("public.t", "k1", "body")
	if err != nil || !ok || got.At != e.At || got.Type != "text" || !bytes.Equal(got.Value, e.Value) {
		t.Fatalf("Get = %+v, %v, %v", got.At, ok, err)
	}
	if _, ok, _ := c.Get("public.t", "k1", "nope"); ok {
		t.Fatal("Get of an unknown column found a value")
	}
	if err := c.DeleteRow("public.t", "k1"); err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"body", "other"} {
		if _, ok, _ := c.Get("public.t", "k1", col); ok {
			t.Fatalf("column %s survived DeleteRow", col)
		}
	}
	if _, ok, _ := c.Get("public.t", "k2", "body"); !ok {
		t.Fatal("DeleteRow of k1 dropped k2")
	}
	if err := c.DeleteTable("public.t"); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 || c.Size() != 0 {
		t.Fatalf("after DeleteTable: %d entries, %d bytes", c.Len(), c.Size())
	}
}

// A row key that is a prefix of another's must not share its entries.
func TestPrefixKeysApart(t *testing.T) {
	t.Parallel()
	c, _ := openTest(t, t.TempDir()).Cache("src", 1<<20)
	e := Entry{Type: "text", Value: big(10, 'x')}
	c.Put("public.t", `{"i":"1"},`, "c", e)
	c.Put("public.t", `{"i":"1"},{"i":"2"},`, "c", e)
	c.Put("public.tt", `{"i":"1"},`, "c", e)
	c.DeleteRow("public.t", `{"i":"1"},`)
	if c.Len() != 2 {
		t.Fatalf("%d entries left, want 2", c.Len())
	}
	other, _ := c.d.Cache("src2", 1<<20)
	other.Put("public.t", `{"i":"1"},`, "c", e)
	c.DeleteTable("public.t")
	if _, ok, _ := other.Get("public.t", `{"i":"1"},`, "c"); !ok {
		t.Fatal("another source's entry was dropped")
	}
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	c, _ := openTest(t, t.TempDir()).Cache("src", 10_000)
	put := func(k string) {
		if ok, err := c.Put("public.t", k, "c", Entry{Type: "text", Value: big(3000, 'v')}); err != nil || !ok {
			t.Fatalf("Put %s = %v, %v", k, ok, err)
		}
	}
	put("a")
	put("b")
	put("c")
	c.Get("public.t", "a", "c") // a is now more recent than b
	put("d")                    // over 10,000 bytes: b goes
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok, _ := c.Get("public.t", k, "c"); ok != want {
			t.Errorf("%s cached = %v, want %v", k, ok, want)
		}
	}
	if c.Size() > 10_000 {
		t.Fatalf("size %d over the bound", c.Size())
	}
	// Larger than the whole bound: not kept, and an older value is gone.
	if ok, err := c.Put("public.t", "a", "c", Entry{Type: "text", Value: big(20_000, 'w')}); ok || err != nil {
		t.Fatalf("oversized Put = %v, %v", ok, err)
	}
	if _, ok, _ := c.Get("public.t", "a", "c"); ok {
		t.Fatal("an oversized Put left the older value")
	}
}

func TestDurableAcrossReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := d.Cache("src", 1<<20)
	for i := range 3 {
		c.Put("public.t", fmt.Sprint(i), "c", Entry{At: Order{LSN: uint64(i)}, Type: "text", Value: big(3000, byte('a'+i))})
	}
	c.Seen(42)
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	size := c.Size()
	d.Close()

	c2, err := openTest(t, dir).Cache("src", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Len() != 3 || c2.Size() != size {
		t.Fatalf("reopened: %d entries, %d bytes; want 3, %d", c2.Len(), c2.Size(), size)
	}
	e, ok, _ := c2.Get("public.t", "2", "c")
	if !ok || e.At.LSN != 2 || e.Value[0] != 'c' {
		t.Fatalf("reopened Get = %+v, %v", e.At, ok)
	}
	if !c2.Continuous(42) || !c2.Continuous(10) {
		t.Fatal("a resume at or before the synced LSN is not continuous")
	}
	if c2.Continuous(43) {
		t.Fatal("a resume past what the cache saw counts as continuous")
	}
	if err := c2.Reset(43); err != nil || c2.Len() != 0 {
		t.Fatalf("Reset: %v, %d entries left", err, c2.Len())
	}
}

func TestOrderCompare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b Order
		want int
	}{
		{Order{1, 0}, Order{1, 0}, 0},
		{Order{1, 5}, Order{2, 0}, -1},
		{Order{2, 0}, Order{1, 9}, 1},
		{Order{2, 3}, Order{2, 1}, 1},
	} {
		if got := tc.a.Compare(tc.b); got != tc.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestEntryRoundTrip(t *testing.T) {
	t.Parallel()
	e := Entry{At: Order{LSN: 1 << 40, Index: 7}, Type: "jsonb", Value: []byte(`{"a":1}`)}
	got, err := decodeEntry(encodeEntry(e))
	if err != nil || got.At != e.At || got.Type != e.Type || !bytes.Equal(got.Value, e.Value) {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	if _, err := decodeEntry([]byte{9, 0}); err == nil {
		t.Fatal("a bad record decoded")
	}
}

// The per-table counts that let most calls skip building a key follow
// every Put and drop, and are rebuilt when the cache is opened again.
func TestTableCountsFollowEntries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := openTest(t, dir)
	c, err := d.Cache("src", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{At: Order{LSN: 1}, Type: "text", Value: big(3000, 'a')}
	c.Put("public.a", "k1", "body", e)
	c.Put("public.a", "k2", "body", e)
	c.Put("public.b", "k1", "body", e)
	for _, del := range []func() error{
		func() error { return c.Delete("public.c", "k1", "body") },
		func() error { return c.DeleteRow("public.c", "k1") },
		func() error { return c.DeleteTable("public.c") },
	} {
		if err := del(); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := c.Get("public.a", "k1", "body"); !ok {
		t.Fatal("deleting another table's values dropped public.a's")
	}
	if err := c.DeleteRow("public.a", "k1"); err != nil {
		t.Fatal(err)
	}
	if got := c.tables["public.a"]; got != 1 {
		t.Fatalf("public.a counts %d entries after one of two rows was deleted, want 1", got)
	}
	if err := c.Delete("public.a", "k2", "body"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.tables["public.a"]; ok {
		t.Fatal("public.a still counted after its last entry was deleted")
	}
	d.Close()

	c2, err := openTest(t, dir).Cache("src", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.tables; len(got) != 1 || got["public.b"] != 1 {
		t.Fatalf("counts after reopening: %v, want public.b: 1", got)
	}
	if _, ok, _ := c2.Get("public.b", "k1", "body"); !ok {
		t.Fatal("public.b's value not found after reopening")
	}
}
