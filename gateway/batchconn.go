package gateway

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// batchConn lets a connection's writer send the frames it took from its
// queue in one system call. gorilla/websocket writes every frame with a
// write of its own; the emotion and the reply of a message leave together,
// and on a busy gateway a write costs about as much as the rest of the
// frame's work. While held, writes are gathered; flush sends them at once.
// Writes of other goroutines (gorilla's answers to a ping or a close from
// the read loop) join the batch while it is held; gorilla writes each
// frame in one piece under its own lock, so frames never interleave.
type batchConn struct {
	net.Conn

	mu      sync.Mutex
	holding bool
	buf     []byte
}

// maxKeptBatch caps the buffer a connection keeps between batches.
const maxKeptBatch = 8 << 10

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holding {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// hold gathers the writes that follow until flush or drop.
func (c *batchConn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// flush sends what was gathered in one write and stops holding.
func (c *batchConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.reset()
	return err
}

// drop discards what was gathered and stops holding.
func (c *batchConn) drop() {
	c.mu.Lock()
	c.holding = false
	c.reset()
	c.mu.Unlock()
}

func (c *batchConn) reset() {
	if cap(c.buf) > maxKeptBatch {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
}

// CloseWrite half-closes the connection when it can (see wsConn.linger).
func (c *batchConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// hijackWriter hands the WebSocket upgrader a batchConn in place of the
// hijacked connection.
type hijackWriter struct {
	http.ResponseWriter
}

func (w hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &batchConn{Conn: nc}, brw, nil
}
