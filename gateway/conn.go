package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/moodgate/moodgate/session"
)

// Timings of every connection.
const (
	writeWait  = 10 * time.Second
	pongWait   = 60 * time.Second
	pingPeriod = pongWait * 9 / 10
	// maxStrikes refused frames in a row close the connection as a flood.
	maxStrikes = 20
	inboxSize  = 16
)

// DisconnectReason says why a connection closed; it is counted in metrics
// and sent as the close frame's text.
type DisconnectReason string

// Why connections close.
const (
	ReasonClient       DisconnectReason = "client_closed"
	ReasonShutdown     DisconnectReason = "shutdown"
	ReasonSlowConsumer DisconnectReason = "slow_consumer"
	ReasonFlood        DisconnectReason = "flood"
	ReasonTooLarge     DisconnectReason = "too_large"
	ReasonBinary       DisconnectReason = "binary_frame"
	ReasonWriteError   DisconnectReason = "write_error"
	ReasonReplayFailed DisconnectReason = "replay_failed"
	ReasonErased       DisconnectReason = "session_erased"
	ReasonUnauthorized DisconnectReason = "unauthorized"
)

// wsConn is the part shared by user and operator connections: one writer
// goroutine draining a byte-capped queue, and a close that happens once.
type wsConn struct {
	ws   *websocket.Conn
	bc   *batchConn // ws's connection, when the server upgraded it
	out  *outQueue
	srv  *Server
	kind string // "user" or "operator"

	closeOnce sync.Once
	closing   chan struct{} // closed when a close is requested
	done      chan struct{} // closed when the writer has finished
	readDone  chan struct{} // closed by the reader when it stops reading
	code      int
	reason    DisconnectReason
}

func newWSConn(srv *Server, ws *websocket.Conn, kind string) *wsConn {
	bc, _ := ws.NetConn().(*batchConn)
	return &wsConn{ws: ws, bc: bc, srv: srv, kind: kind, out: newOutQueue(srv.cfg.SendQueueBytes),
		closing: make(chan struct{}), done: make(chan struct{}), readDone: make(chan struct{})}
}

// lingerWait bounds each step of the lingering close.
const lingerWait = time.Second

// linger lets the peer read the close frame. Closing a socket whose input
// is not all read makes the kernel send a reset, and a reset destroys what
// the peer has not read yet: the close frame with its reason, and the
// error frames before it (a flood is closed with its frames unread). So
// once the reader has stopped, the writer half-closes, reads and discards
// until the peer hangs up, and only then closes.
func (c *wsConn) linger() {
	select {
	case <-c.readDone:
	case <-time.After(lingerWait):
		return
	}
	nc := c.ws.NetConn()
	if tc, ok := nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	nc.SetReadDeadline(time.Now().Add(lingerWait))
	io.Copy(io.Discard, nc)
}

// send queues b; a full queue closes the connection as a slow consumer.
func (c *wsConn) send(b []byte) {
	if !c.out.push(b) {
		c.close(websocket.ClosePolicyViolation, ReasonSlowConsumer)
	}
}

// close asks the writer to flush, send a close frame and hang up. Only the
// first call counts. A slow consumer's queue is dropped and the write it is
// stuck in is cut short, so it is gone within a second rather than after
// the full write deadline; what it missed is stored, and it resumes.
func (c *wsConn) close(code int, reason DisconnectReason) {
	c.closeOnce.Do(func() {
		c.code, c.reason = code, reason
		slow := reason == ReasonSlowConsumer
		c.out.close(slow)
		close(c.closing)
		if slow {
			c.ws.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
		}
		c.srv.metrics.disconnects.WithLabelValues(c.kind, string(reason)).Inc()
	})
}

// cut reports whether the connection is closing as a slow consumer: the
// writer stops writing what it had taken from the queue.
func (c *wsConn) cut() bool {
	select {
	case <-c.closing:
		return c.reason == ReasonSlowConsumer
	default:
		return false
	}
}

// writeLoop owns every write to the socket.
func (c *wsConn) writeLoop() {
	defer close(c.done)
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	var batch [][]byte
	// What the queue holds goes out in one write (see batchConn).
	write := func() bool {
		batch = c.out.drain(batch[:0])
		if c.bc != nil && len(batch) > 1 {
			c.bc.hold()
		}
		for i, b := range batch {
			if c.cut() {
				clear(batch)
				if c.bc != nil {
					c.bc.drop()
				}
				return true
			}
			c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.close(websocket.CloseAbnormalClosure, ReasonWriteError)
				return false
			}
			batch[i] = nil
		}
		if c.bc != nil {
			if err := c.bc.flush(); err != nil {
				c.close(websocket.CloseAbnormalClosure, ReasonWriteError)
				return false
			}
		}
		return true
	}
	for {
		select {
		case <-c.out.ready:
			if !write() {
				c.ws.Close()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.close(websocket.CloseAbnormalClosure, ReasonWriteError)
			}
		case <-c.closing:
			if c.reason != ReasonSlowConsumer && c.reason != ReasonWriteError {
				write()
			}
			if c.code != websocket.CloseAbnormalClosure {
				msg := websocket.FormatCloseMessage(c.code, string(c.reason))
				if c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)) == nil {
					c.linger()
				}
			}
			c.ws.Close()
			return
		}
	}
}

// userConn is one browser's chat connection.
type userConn struct {
	*wsConn
	sid string
	ip  string

	ctx    context.Context // ends when the user goes away
	cancel context.CancelFunc

	mu        sync.Mutex
	lastSent  int64
	replaying bool
	pending   []session.FeedEntry

	inbox      chan clientFrame
	workerOnce sync.Once
	workerDone chan struct{}
	limiter    *rate.Limiter
	ipLimiter  *rate.Limiter
	strikes    int
}

// deliver implements subscriber: the seq gate sends each event once, in
// order.
func (c *userConn) deliver(e session.FeedEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replaying {
		c.pending = append(c.pending, e)
		return
	}
	c.deliverLocked(e)
}

func (c *userConn) deliverLocked(e session.FeedEntry) {
	if e.Seq == 0 {
		if string(e.JSON) == session.ErasedNotice {
			c.close(websocket.ClosePolicyViolation, ReasonErased)
		}
		return
	}
	c.sendLocked(e.Seq, e.JSON)
}

func (c *userConn) sendLocked(seq int64, js []byte) {
	if seq <= c.lastSent {
		return
	}
	c.lastSent = seq
	c.send(js)
}

// direct sends an event the worker just stored, but only when it is the
// next seq: otherwise an earlier event is still on its way through the feed,
// which will deliver both in order.
func (c *userConn) direct(r session.Raw) {
	c.mu.Lock()
	if !c.replaying && r.Seq == c.lastSent+1 {
		c.sendLocked(r.Seq, r.JSON)
	}
	c.mu.Unlock()
}

// replayPage is how many stored events a replay reads at a time.
const replayPage = 256

// replay sends every stored event after `after`, then what the feed brought
// meanwhile. Stored events go out a page at a time, each waiting for room
// in the queue: a history longer than the queue's cap is not a slow
// consumer. Live events wait in pending meanwhile.
func (c *userConn) replay(ctx context.Context, after int64) error {
	c.mu.Lock()
	c.replaying = true
	c.lastSent = after
	c.mu.Unlock()
	c.srv.hub.subscribe(c.sid, c)
	var err error
	for {
		var raws []session.Raw
		if raws, err = c.srv.store.Events(ctx, c.sid, after, replayPage); err != nil {
			break
		}
		for _, r := range raws {
			if !c.out.pushWait(r.JSON, c.closing) {
				break
			}
			after = r.Seq
		}
		if len(raws) < replayPage || after < raws[len(raws)-1].Seq {
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replaying = false
	c.lastSent = after
	if err != nil {
		return err
	}
	for _, e := range c.pending {
		// An erase that came during the replay closes the connection too.
		c.deliverLocked(e)
	}
	c.pending = nil
	return nil
}

func (c *userConn) sendError(pe *ProtoError) { c.send(encodeError(pe)) }

// readLoop owns the read side until the client goes away or the server
// closes the connection.
func (c *userConn) readLoop() {
	defer close(c.readDone)
	ws := c.ws
	ws.SetReadLimit(int64(c.srv.cfg.MaxMessageBytes))
	// Shutdown ends a read by setting a deadline in the past; a deadline
	// set here must not undo it, so each is followed by a draining check.
	extend := func() {
		ws.SetReadDeadline(time.Now().Add(pongWait))
		if c.srv.draining.Load() {
			ws.SetReadDeadline(time.Now().Add(-time.Second))
		}
	}
	extend()
	ws.SetPongHandler(func(string) error { extend(); return nil })
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			switch {
			case c.srv.draining.Load():
				// Shutdown unblocked the read; the caller finishes in-flight work.
			case errors.Is(err, websocket.ErrReadLimit):
				// gorilla has already sent close 1009.
				c.close(websocket.CloseMessageTooBig, ReasonTooLarge)
			default:
				c.close(websocket.CloseNormalClosure, ReasonClient)
			}
			return
		}
		ws.SetReadDeadline(time.Now().Add(pongWait))
		if c.srv.draining.Load() {
			// Read after shutdown began: refuse it, unstored, so the client
			// resends it to another node.
			pe := protoErr(CodeShuttingDown, "서버가 재시작 중이에요. 다시 연결한 뒤 보내 주세요. (server restarting; resend after reconnecting)")
			if f, err := parseClientFrame(data); err == nil {
				pe.ID = f.ID
			}
			pe.Retryable = true
			c.sendError(pe)
			return
		}
		if mt == websocket.BinaryMessage {
			c.close(websocket.CloseUnsupportedData, ReasonBinary)
			return
		}
		f, pe := parseClientFrame(data)
		if pe == nil && f.Type == "message" {
			if pe = c.admit(); pe != nil {
				pe.ID = f.ID
			}
		}
		if pe != nil {
			c.srv.metrics.refused.WithLabelValues(pe.Code).Inc()
			c.sendError(pe)
			if c.strikes++; c.strikes >= maxStrikes {
				c.close(websocket.ClosePolicyViolation, ReasonFlood)
				return
			}
			continue
		}
		c.strikes = 0
		switch f.Type {
		case "ping":
			c.send(pongFrame)
		case "message":
			if !c.enqueue(f) {
				return
			}
		}
	}
}

// admit applies the per-session and per-address message rates.
func (c *userConn) admit() *ProtoError {
	if !c.limiter.Allow() || (c.ipLimiter != nil && !c.ipLimiter.Allow()) {
		pe := protoErr(CodeRateLimited, "메시지를 너무 빨리 보내고 있어요. 잠시 후 다시 보내 주세요. (too many messages; slow down)")
		pe.Retryable = true
		return pe
	}
	return nil
}

// enqueue hands a message to the connection's worker; false when the
// connection is closing.
func (c *userConn) enqueue(f clientFrame) bool {
	c.workerOnce.Do(func() {
		// Made on the first message: an idle session holds no inbox.
		c.inbox = make(chan clientFrame, inboxSize)
		c.workerDone = make(chan struct{})
		go c.work()
	})
	select {
	case c.inbox <- f:
		return true
	case <-c.closing:
		return false
	default:
		pe := protoErr(CodeBusy, "앞선 메시지를 처리하고 있어요. 잠시 후 다시 보내 주세요. (still handling your earlier messages)")
		pe.ID, pe.Retryable = f.ID, true
		c.sendError(pe)
		return true
	}
}

// work handles the connection's messages in order; it ends when the inbox
// is closed (after the read loop ends) and drained.
func (c *userConn) work() {
	defer close(c.workerDone)
	for f := range c.inbox {
		c.srv.handleMessage(c, f)
	}
}

// finish waits for in-flight messages, then closes the connection.
func (c *userConn) finish(code int, reason DisconnectReason, wait time.Duration) {
	if c.inbox != nil {
		close(c.inbox)
	}
	if c.workerDone != nil {
		select {
		case <-c.workerDone:
		case <-time.After(wait):
		}
	}
	c.close(code, reason)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
