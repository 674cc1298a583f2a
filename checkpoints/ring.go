package checkpoints

// ring is a growable FIFO deque backed by a power-of-two circular buffer.
// Push, PopFront and indexed access are O(1) amortised. It is not safe for
// concurrent use; the Tracker guards it with its mutex.
type ring[T any] struct {
	buf  []T
	head int // index in buf of the front element
	n    int // number of elements
}

// Len reports the number of elements.
func (r *ring[T]) Len() int { return r.n }

// PushBack appends v at the back, growing the buffer when full.
func (r *ring[T]) PushBack(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

// Front returns a pointer to the front element. The ring must not be empty.
func (r *ring[T]) Front() *T { return r.At(0) }

// Back returns a pointer to the back element. The ring must not be empty.
func (r *ring[T]) Back() *T { return r.At(r.n - 1) }

// At returns a pointer to the i-th element from the front; 0 <= i < Len().
// The pointer is valid until the next PushBack.
func (r *ring[T]) At(i int) *T {
	if i < 0 || i >= r.n {
		panic("checkpoints: ring index out of range")
	}
	return &r.buf[(r.head+i)&(len(r.buf)-1)]
}

// PopFront removes and returns the front element. The ring must not be empty.
func (r *ring[T]) PopFront() T {
	if r.n == 0 {
		panic("checkpoints: pop from empty ring")
	}
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero // drop references for the garbage collector
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return v
}

func (r *ring[T]) grow() {
	size := 2 * len(r.buf)
	if size == 0 {
		size = 16
	}
	buf := make([]T, size)
	for i := range r.n {
		buf[i] = r.buf[(r.head+i)&(len(r.buf)-1)]
	}
	r.buf, r.head = buf, 0
}
