package gateway

import "sync"

// outQueue is a connection's outbound queue, capped in bytes. push never
// blocks: when the cap would be exceeded it refuses, and the connection is
// closed as a slow consumer. pushWait, for a connection's own replay of
// stored history, waits for room instead.
type outQueue struct {
	mu     sync.Mutex
	msgs   [][]byte
	bytes  int
	max    int
	closed bool
	ready  chan struct{} // receives a token when msgs becomes non-empty
	space  chan struct{} // receives a token when the writer drains msgs
}

func newOutQueue(max int) *outQueue {
	return &outQueue{max: max, ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// push appends b; false means the queue is full or closed.
func (q *outQueue) push(b []byte) bool {
	ok, _ := q.tryPush(b, false)
	return ok
}

// pushWait appends b like push, but while the queue is full it waits for
// the writer to drain it, until stop is closed. It is for a connection's
// own goroutine replaying stored history, which may be far larger than the
// cap; the writer makes progress or fails its write deadline and closes the
// connection, so the wait ends. An empty queue takes b whatever its size.
func (q *outQueue) pushWait(b []byte, stop <-chan struct{}) bool {
	for {
		ok, full := q.tryPush(b, true)
		if !full {
			return ok
		}
		select {
		case <-q.space:
		case <-stop:
			return false
		}
	}
}

// tryPush appends b if it fits (or, with anySize, if the queue is empty);
// full reports that it did not fit in an open queue.
func (q *outQueue) tryPush(b []byte, anySize bool) (ok, full bool) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false, false
	}
	if q.bytes+len(b) > q.max && !(anySize && q.bytes == 0) {
		q.mu.Unlock()
		return false, true
	}
	q.msgs = append(q.msgs, b)
	q.bytes += len(b)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true, false
}

// drain takes every queued message, oldest first, into dst.
func (q *outQueue) drain(dst [][]byte) [][]byte {
	q.mu.Lock()
	dst = append(dst, q.msgs...)
	clear(q.msgs)
	q.msgs = q.msgs[:0]
	q.bytes = 0
	q.mu.Unlock()
	select {
	case q.space <- struct{}{}:
	default:
	}
	return dst
}

// close refuses every later push; drop also discards what is queued.
func (q *outQueue) close(drop bool) {
	q.mu.Lock()
	q.closed = true
	if drop {
		clear(q.msgs)
		q.msgs, q.bytes = nil, 0
	}
	q.mu.Unlock()
}
