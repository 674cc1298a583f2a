package sink

import "sync"

// FirstError keeps the first error a sink reported through its AckFunc.
// The sink may report a failure from any goroutine, also while its writer
// is already stopping for another reason, so it is read and written under a
// lock. The zero value holds no error.
type FirstError struct {
	mu  sync.Mutex
	err error
}

// Record keeps err unless an error is already kept; nil is ignored.
func (f *FirstError) Record(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

// Err returns the first recorded error, nil if none.
func (f *FirstError) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
