package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// benchFrame is the part of a server frame the load tool reads; the rest is
// ignored, as the protocol asks of clients.
type benchFrame struct {
	Type      string `json:"type"`
	Seq       int64  `json:"seq"`
	ID        string `json:"id"`
	Ref       int64  `json:"ref"`
	Code      string `json:"code"`
	SessionID string `json:"session_id"`
	Token     string `json:"token"`
	Notice    string `json:"notice"`
}

// inFrame is a frame and the time the reader got it off the socket.
type inFrame struct {
	f  benchFrame
	at time.Time
}

// benchConn is one WebSocket connection and its reader goroutine. The
// session goroutine is the only writer.
type benchConn struct {
	ws     *websocket.Conn
	frames chan inFrame
	done   chan error // the reader's last error; buffered, written once
	quit   chan struct{}
	closed bool // only the owning session goroutine closes
}

// dialBench opens a connection and reads the welcome frame. resume, when
// non-empty, holds the session, token and last_seq query parameters.
func dialBench(ctx context.Context, d *websocket.Dialer, rawURL string, resume url.Values) (*benchConn, benchFrame, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, benchFrame{}, err
	}
	if len(resume) > 0 {
		q := u.Query()
		for k, v := range resume {
			q[k] = v
		}
		u.RawQuery = q.Encode()
	}
	origin := "http://" + u.Host
	if u.Scheme == "wss" {
		origin = "https://" + u.Host
	}
	ws, resp, err := d.DialContext(ctx, u.String(), http.Header{"Origin": {origin}})
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, benchFrame{}, err
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var welcome benchFrame
	if err := ws.ReadJSON(&welcome); err != nil {
		ws.Close()
		return nil, benchFrame{}, fmt.Errorf("reading welcome: %w", err)
	}
	if welcome.Type != "welcome" {
		ws.Close()
		return nil, benchFrame{}, fmt.Errorf("first frame is %q, not welcome", welcome.Type)
	}
	ws.SetReadDeadline(time.Time{})
	return &benchConn{ws: ws}, welcome, nil
}

// startReader runs the read loop until the connection fails or quit is
// closed. Pings from the server are answered by gorilla's default handler
// while the loop reads.
func (c *benchConn) startReader() {
	c.frames = make(chan inFrame, 256)
	c.done = make(chan error, 1)
	c.quit = make(chan struct{})
	go func() {
		for {
			_, data, err := c.ws.ReadMessage()
			if err != nil {
				c.done <- err
				return
			}
			in := inFrame{at: time.Now()}
			if err := json.Unmarshal(data, &in.f); err != nil {
				in.f = benchFrame{Type: "_undecodable"}
			}
			select {
			case c.frames <- in:
			case <-c.quit:
				return
			}
		}
	}()
}

// close closes the connection once; the reader stops.
func (c *benchConn) close() {
	if c.closed {
		return
	}
	c.closed = true
	if c.quit != nil {
		close(c.quit)
	}
	c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bench done"), time.Now().Add(time.Second))
	c.ws.Close()
}

// pendingMsg is a message sent and not yet answered.
type pendingMsg struct {
	id       string
	text     string
	intended time.Time // latencies count from here
	measured bool      // intended time inside the measurement window
	seq      int64     // from the ack; 0 before
	emotion  bool
}

// window is the shared timeline of a run.
type window struct {
	start, warmEnd, end time.Time
}

func (w window) in(t time.Time) bool { return !t.Before(w.warmEnd) && t.Before(w.end) }

// errSessionLost ends a session whose connection could not be restored.
var errSessionLost = errors.New("bench: session lost")

// loadSession is one simulated user. Its goroutine owns every field.
type loadSession struct {
	cfg    *loadConfig
	dialer *websocket.Dialer
	idx    int
	gen    *lineGen
	t      *tally
	win    window

	conn      *benchConn
	sessionID string
	token     string
	lastSeq   int64
	nextID    int
	pending   map[string]*pendingMsg
	bySeq     map[int64]*pendingMsg
	sending   bool
}

func newLoadSession(cfg *loadConfig, d *websocket.Dialer, idx int) *loadSession {
	return &loadSession{
		cfg:     cfg,
		dialer:  d,
		idx:     idx,
		gen:     newLineGen(cfg.Seed+uint64(idx), cfg.NegShare, cfg.CrisisShare),
		t:       newTally(),
		pending: map[string]*pendingMsg{},
		bySeq:   map[int64]*pendingMsg{},
	}
}

// connect opens a new session (resume false) or resumes the current one.
func (s *loadSession) connect(ctx context.Context, resume bool) error {
	var q url.Values
	if resume {
		q = url.Values{"session": {s.sessionID}, "token": {s.token}, "last_seq": {strconv.FormatInt(s.lastSeq, 10)}}
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, w, err := dialBench(dctx, s.dialer, s.cfg.URL, q)
	if err != nil {
		return err
	}
	if !resume {
		s.sessionID, s.token, s.lastSeq = w.SessionID, w.Token, w.Seq
	}
	s.conn = c
	c.startReader()
	return nil
}

// run drives the session from win.start until the measurement window ends
// and every message in flight is answered or timed out.
func (s *loadSession) run(ctx context.Context, win window) {
	s.win = win
	defer func() {
		if s.conn != nil {
			s.conn.close()
		}
	}()
	open := s.cfg.Rate > 0
	var interval time.Duration
	next := win.start
	if open {
		interval = time.Duration(float64(time.Second) * float64(s.cfg.Sessions) / s.cfg.Rate)
		next = win.start.Add(interval * time.Duration(s.idx) / time.Duration(s.cfg.Sessions))
	}
	sendTimer := time.NewTimer(time.Until(next))
	defer sendTimer.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	drainEnd := win.end.Add(s.cfg.Timeout)
	s.sending = true

	for {
		if !s.sending && len(s.pending) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case in := <-s.conn.frames:
			if err := s.handle(ctx, in, open); err != nil {
				return
			}
		case err := <-s.conn.done:
			if ctx.Err() != nil {
				return
			}
			s.t.errs["read"]++
			if s.reconnect(ctx, err) != nil {
				return
			}
		case now := <-sendTimer.C:
			if !s.sending {
				continue
			}
			if !open {
				if s.send(ctx, now) != nil {
					return
				}
				continue
			}
			for !next.After(now) && next.Before(win.end) {
				if s.send(ctx, next) != nil {
					return
				}
				next = next.Add(interval)
			}
			if !next.Before(win.end) {
				s.sending = false
			} else {
				sendTimer.Reset(time.Until(next))
			}
		case now := <-tick.C:
			if !now.Before(win.end) {
				s.sending = false
			}
			if s.expire(ctx, now, open) != nil || now.After(drainEnd) {
				s.expireAll()
				return
			}
		}
	}
}

// send writes a new message whose latency counts from intended.
func (s *loadSession) send(ctx context.Context, intended time.Time) error {
	s.nextID++
	text, _ := s.gen.next()
	m := &pendingMsg{
		id:       fmt.Sprintf("b%d-%d", s.idx, s.nextID),
		text:     text,
		intended: intended,
		measured: s.win.in(intended),
	}
	s.pending[m.id] = m
	if m.measured {
		s.t.sent++
	}
	return s.write(ctx, m)
}

func (s *loadSession) write(ctx context.Context, m *pendingMsg) error {
	if err := s.writeRaw(m); err != nil {
		s.t.errs["write"]++
		return s.reconnect(ctx, err)
	}
	return nil
}

func (s *loadSession) writeRaw(m *pendingMsg) error {
	b, err := json.Marshal(struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Text string `json:"text"`
	}{"message", m.id, m.text})
	if err != nil {
		return err
	}
	s.conn.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return s.conn.ws.WriteMessage(websocket.TextMessage, b)
}

// handle applies one server frame.
func (s *loadSession) handle(ctx context.Context, in inFrame, open bool) error {
	f := in.f
	if f.Seq > s.lastSeq {
		s.lastSeq = f.Seq
	}
	switch f.Type {
	case "ack":
		m := s.pending[f.ID]
		if m == nil || m.seq != 0 {
			return nil // a replayed or duplicate ack
		}
		m.seq = f.Seq
		s.bySeq[f.Seq] = m
		if m.measured {
			s.t.acked++
			s.t.ack = append(s.t.ack, in.at.Sub(m.intended))
		}
	case "emotion":
		m := s.bySeq[f.Ref]
		if m == nil || m.emotion {
			return nil
		}
		m.emotion = true
		if m.measured {
			s.t.emotions++
			s.t.emotion = append(s.t.emotion, in.at.Sub(m.intended))
		}
	case "reply":
		if f.Notice != "" {
			s.t.notices[f.Notice]++
		}
		if m := s.bySeq[f.Ref]; m != nil {
			s.finish(m, in.at, false)
			return s.afterDone(ctx, !open)
		}
	case "escalation":
		// The session now waits for an operator and the bot stays silent:
		// count the escalation as the message's answer, then start over
		// with a new session so the load stays steady.
		if m := s.bySeq[f.Ref]; m != nil {
			s.finish(m, in.at, true)
		}
		return s.restart(ctx, !open)
	case "error":
		s.t.errs["error:"+f.Code]++
		if m := s.pending[f.ID]; m != nil {
			s.drop(m)
			if m.measured {
				s.t.errored++
			}
			return s.afterDone(ctx, !open)
		}
	case "_undecodable":
		s.t.errs["bad_frame"]++
	}
	return nil
}

// finish records a message's terminal event (reply or escalation).
func (s *loadSession) finish(m *pendingMsg, at time.Time, escalated bool) {
	s.drop(m)
	if s.win.in(at) {
		s.t.completedInWindow++
	}
	if !m.measured {
		return
	}
	if escalated {
		s.t.escalated++
	} else {
		s.t.replies++
	}
	s.t.reply = append(s.t.reply, at.Sub(m.intended))
}

func (s *loadSession) drop(m *pendingMsg) {
	delete(s.pending, m.id)
	if m.seq != 0 {
		delete(s.bySeq, m.seq)
	}
}

// afterDone sends the closed loop's next message.
func (s *loadSession) afterDone(ctx context.Context, closedLoop bool) error {
	if !closedLoop || !s.sending {
		return nil
	}
	now := time.Now()
	if !now.Before(s.win.end) {
		s.sending = false
		return nil
	}
	return s.send(ctx, now)
}

// expire drops messages older than the timeout.
func (s *loadSession) expire(ctx context.Context, now time.Time, open bool) error {
	for _, m := range s.pending {
		if now.Sub(m.intended) < s.cfg.Timeout {
			continue
		}
		s.timeout(m, now)
		if err := s.afterDone(ctx, !open); err != nil {
			return err
		}
	}
	return nil
}

// expireAll counts every message still in flight as timed out.
func (s *loadSession) expireAll() {
	now := time.Now()
	for _, m := range s.pending {
		s.timeout(m, now)
	}
}

// timeout gives up on m. Its send→reply sample is the time waited, a lower
// bound, so that a gateway that stops answering does not look fast.
func (s *loadSession) timeout(m *pendingMsg, now time.Time) {
	s.drop(m)
	s.t.errs["timeout"]++
	if m.measured {
		s.t.timedOut++
		s.t.reply = append(s.t.reply, now.Sub(m.intended))
	}
}

// abandonAll gives up on every message in flight (after an escalation or
// when the session cannot be restored).
func (s *loadSession) abandonAll() {
	for _, m := range s.pending {
		s.drop(m)
		if m.measured {
			s.t.abandoned++
		}
	}
}

// reconnect resumes the session after a dropped connection and resends
// every message the server has not acknowledged, with the same id (the
// gateway stores it once). It gives up after five attempts.
func (s *loadSession) reconnect(ctx context.Context, cause error) error {
	backoff := 50 * time.Millisecond
	for attempt := 0; attempt < 5; attempt++ {
		s.conn.close()
		if attempt > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := s.connect(ctx, true); err != nil {
			s.t.errs["dial"]++
			continue
		}
		if err := s.resend(); err != nil {
			s.t.errs["write"]++
			continue
		}
		s.t.reconnects++
		return nil
	}
	s.abandonAll()
	s.sending = false
	s.t.errs["session_lost"]++
	return fmt.Errorf("%w: %v", errSessionLost, cause)
}

func (s *loadSession) resend() error {
	for _, m := range s.pending {
		if m.seq == 0 {
			if err := s.writeRaw(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// restart abandons the escalated session and opens a new one.
func (s *loadSession) restart(ctx context.Context, closedLoop bool) error {
	s.abandonAll()
	s.conn.close()
	s.conn = nil
	if err := s.connect(ctx, false); err != nil {
		s.t.errs["dial"]++
		s.t.errs["session_lost"]++
		s.sending = false
		return fmt.Errorf("%w: %v", errSessionLost, err)
	}
	s.t.restarts++
	return s.afterDone(ctx, closedLoop)
}
