package sink

import (
	"errors"
	"sync"
	"testing"
)

func TestFirstErrorKeepsTheFirst(t *testing.T) {
	t.Parallel()
	var f FirstError
	if f.Err() != nil {
		t.Fatalf("zero FirstError holds %v", f.Err())
	}
	f.Record(nil)
	if f.Err() != nil {
		t.Fatalf("nil recorded as %v", f.Err())
	}
	first, second := errors.New("first"), errors.New("second")
	f.Record(first)
	f.Record(second)
	if f.Err() != first {
		t.Errorf("Err = %v, want the first", f.Err())
	}
}

func TestFirstErrorConcurrent(t *testing.T) {
	t.Parallel()
	var f FirstError
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Record(errors.New("failed"))
			_ = f.Err()
		}()
	}
	wg.Wait()
	if f.Err() == nil {
		t.Error("no error kept")
	}
}
