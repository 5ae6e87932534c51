package gateway

import "sync"

// outQueue is a connection's outbound queue, capped in bytes. push never
// blocks: when the cap would be exceeded it refuses, and the connection is
// closed as a slow consumer.
type outQueue struct {
	mu     sync.Mutex
	msgs   [][]byte
	bytes  int
	max    int
	closed bool
	ready  chan struct{} // receives a token when msgs becomes non-empty
}

func newOutQueue(max int) *outQueue {
	return &outQueue{max: max, ready: make(chan struct{}, 1)}
}

// push appends b; false means the queue is full or closed.
func (q *outQueue) push(b []byte) bool {
	q.mu.Lock()
	if q.closed || q.bytes+len(b) > q.max {
		q.mu.Unlock()
		return false
	}
	q.msgs = append(q.msgs, b)
	q.bytes += len(b)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// drain takes every queued message, oldest first, into dst.
func (q *outQueue) drain(dst [][]byte) [][]byte {
	q.mu.Lock()
	dst = append(dst, q.msgs...)
	clear(q.msgs)
	q.msgs = q.msgs[:0]
	q.bytes = 0
	q.mu.Unlock()
	return dst
}

func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// size is the bytes waiting.
func (q *outQueue) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}
