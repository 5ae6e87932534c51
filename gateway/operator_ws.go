package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/moodgate/moodgate/session"
)

// authWait is how long an operator socket may stay unauthenticated.
const authWait = 10 * time.Second

// operatorConn is one dashboard's live feed.
type operatorConn struct {
	*wsConn
	name string

	mu        sync.Mutex
	last      streamID
	replaying bool
	// pending holds live entries while the catch-up runs, up to
	// SendQueueBytes of events; past that they are dropped and overflow is
	// set, and the catch-up reads them again from Redis (they are in the
	// feed), so a long catch-up under a busy feed holds bounded memory.
	pending      []session.FeedEntry
	pendingBytes int
	overflow     bool
}

// deliver implements subscriber, gated on the feed offset.
func (o *operatorConn) deliver(e session.FeedEntry) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.replaying {
		if o.overflow {
			return
		}
		o.pendingBytes += len(e.JSON)
		if o.pendingBytes > o.srv.cfg.SendQueueBytes {
			o.overflow, o.pending, o.pendingBytes = true, nil, 0
			return
		}
		o.pending = append(o.pending, e)
		return
	}
	o.sendLocked(e)
}

func (o *operatorConn) sendLocked(e session.FeedEntry) {
	id, ok := parseStreamID(e.Offset)
	if !ok || !id.after(o.last) {
		return
	}
	o.last = id
	o.send(feedFrame(e))
}

// feedFrame wraps a stored event without decoding it.
func feedFrame(e session.FeedEntry) []byte {
	b := make([]byte, 0, len(e.JSON)+96)
	b = append(b, `{"type":"event","offset":`...)
	b = strconv.AppendQuote(b, e.Offset)
	b = append(b, `,"session_id":`...)
	b = strconv.AppendQuote(b, e.Session)
	b = append(b, `,"event":`...)
	b = append(b, e.JSON...)
	return append(b, '}')
}

type authFrame struct {
	Type   string `json:"type"`
	Token  string `json:"token"`
	Offset string `json:"offset"`
}

// parseAuthFrame decodes the operator socket's first frame.
func parseAuthFrame(data []byte) (authFrame, bool) {
	var f authFrame
	if json.Unmarshal(data, &f) != nil || f.Type != "auth" || f.Token == "" {
		return f, false
	}
	if f.Offset != "" {
		if _, ok := parseStreamID(f.Offset); !ok {
			return f, false
		}
	}
	return f, true
}

func (s *Server) handleOperatorWS(c echo.Context) error {
	r := c.Request()
	if s.draining.Load() {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "shutting down")
	}
	if !s.checkOrigin(r) {
		s.metrics.upgrades.WithLabelValues("operator", "origin").Inc()
		return echo.NewHTTPError(http.StatusForbidden, "origin not allowed")
	}
	// Sockets that have not signed in yet count like any other: an address
	// cannot hold more than MOODGATE_MAX_CONNS_PER_IP of them either.
	ip := c.RealIP()
	if _, ok := s.ipLimits.acquire(ip); !ok {
		s.metrics.upgrades.WithLabelValues("operator", "too_many").Inc()
		return echo.NewHTTPError(http.StatusTooManyRequests, "too many connections from this address")
	}
	defer s.ipLimits.release(ip)
	ws, err := s.upgrader.Upgrade(hijackWriter{c.Response()}, r, nil)
	if err != nil {
		return nil
	}
	o := &operatorConn{wsConn: newWSConn(s, ws, "operator")}
	if !s.track(nil, o) {
		ws.Close()
		return nil
	}
	defer s.untrack(nil, o)
	s.metrics.connections.WithLabelValues("operator").Inc()
	defer s.metrics.connections.WithLabelValues("operator").Dec()
	go o.writeLoop()
	defer func() { <-o.done }()
	defer close(o.readDone) // runs first: the writer's lingering close waits for it

	ws.SetReadLimit(4096)
	ws.SetReadDeadline(time.Now().Add(authWait))
	_, data, err := ws.ReadMessage()
	f, ok := parseAuthFrame(data)
	if err == nil && ok {
		o.name = s.operators.name(f.Token)
	}
	if o.name == "" {
		s.metrics.upgrades.WithLabelValues("operator", "unauthorized").Inc()
		o.close(websocket.ClosePolicyViolation, ReasonUnauthorized)
		return nil
	}
	s.metrics.upgrades.WithLabelValues("operator", "ok").Inc()
	defer s.hub.unsubscribeOperator(o)
	if err := o.start(s.ctx, f.Offset); err != nil {
		o.send(encodeError(&ProtoError{Code: CodeStoreUnavailable, Message: "피드를 읽지 못했어요. (feed unavailable)", Retryable: true}))
		o.close(websocket.CloseTryAgainLater, ReasonReplayFailed)
		return nil
	}
	ws.SetReadDeadline(time.Now().Add(pongWait))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			o.close(websocket.CloseNormalClosure, ReasonClient)
			return nil
		}
		ws.SetReadDeadline(time.Now().Add(pongWait))
		var p struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &p) == nil && p.Type == "ping" {
			o.send(pongFrame)
		}
	}
}

// start subscribes, replays the feed after offset (or starts at the tail),
// then lets live entries through.
func (o *operatorConn) start(ctx context.Context, offset string) error {
	o.mu.Lock()
	o.replaying = true
	o.mu.Unlock()
	o.srv.hub.subscribeOperator(o)
	var err error
	catchUp := offset != ""
	if !catchUp {
		offset, err = o.srv.store.FeedTail(ctx)
	}
	last := offset
	if err == nil {
		o.send(mustJSON(map[string]string{"type": "ready", "operator": o.name, "offset": offset}))
		if catchUp {
			last, err = o.catchUp(ctx, offset)
		}
	}
	for {
		o.mu.Lock()
		if err != nil || !o.overflow {
			break
		}
		// Live entries were dropped while catching up: read them from
		// the feed, after what was sent.
		o.overflow = false
		o.mu.Unlock()
		o.srv.metrics.catchUpOverflows.Inc()
		last, err = o.catchUp(ctx, last)
	}
	defer o.mu.Unlock()
	o.replaying = false
	if err != nil {
		return err
	}
	o.last, _ = parseStreamID(last)
	for _, e := range o.pending {
		o.sendLocked(e)
	}
	o.pending, o.pendingBytes = nil, 0
	return nil
}

// catchUpPageHook, when set (by tests only), runs after each page of a
// catch-up: what it does happens while the dashboard is catching up.
var catchUpPageHook atomic.Pointer[func()]

// catchUp sends every feed entry after offset, a page at a time, each
// waiting for room in the queue (a dashboard far behind is not a slow
// consumer), and returns the last offset sent.
func (o *operatorConn) catchUp(ctx context.Context, offset string) (string, error) {
	const page = 512
	for {
		entries, err := o.srv.store.ReadFeed(ctx, offset, page, 0)
		if err != nil {
			return offset, err
		}
		for _, e := range entries {
			if !o.out.pushWait(feedFrame(e), o.closing) {
				return offset, nil
			}
			offset = e.Offset
		}
		if h := catchUpPageHook.Load(); h != nil {
			(*h)()
		}
		if len(entries) < page {
			return offset, nil
		}
	}
}
