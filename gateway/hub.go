package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moodgate/moodgate/session"
)

// subscriber receives the feed entries of one session (user connections) or
// of every session (operator connections). deliver must not block.
type subscriber interface {
	deliver(e session.FeedEntry)
}

// hub reads the shared Redis feed, one reader per node, and hands each entry
// to this node's subscribers. Every event of every node passes through the
// feed, which is how two gateways on one Redis behave as one.
type hub struct {
	store session.Store
	log   *slog.Logger

	mu        sync.RWMutex
	sessions  map[string]map[subscriber]struct{}
	operators map[subscriber]struct{}

	healthy atomic.Bool
	offset  atomic.Value // string: the last offset read
}

func newHub(store session.Store, log *slog.Logger) *hub {
	h := &hub{store: store, log: log, sessions: map[string]map[subscriber]struct{}{}, operators: map[subscriber]struct{}{}}
	h.offset.Store("$")
	return h
}

func (h *hub) subscribe(sid string, s subscriber) {
	h.mu.Lock()
	m := h.sessions[sid]
	if m == nil {
		m = map[subscriber]struct{}{}
		h.sessions[sid] = m
	}
	m[s] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) unsubscribe(sid string, s subscriber) {
	h.mu.Lock()
	if m := h.sessions[sid]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.sessions, sid)
		}
	}
	h.mu.Unlock()
}

func (h *hub) subscribeOperator(s subscriber) {
	h.mu.Lock()
	h.operators[s] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) unsubscribeOperator(s subscriber) {
	h.mu.Lock()
	delete(h.operators, s)
	h.mu.Unlock()
}

// run reads the feed until ctx ends. It starts at the feed's tail: events
// older than that reach clients from the session lists when they resume.
func (h *hub) run(ctx context.Context, ready chan<- struct{}) {
	backoff := 50 * time.Millisecond
	started := false
	for ctx.Err() == nil {
		if !started {
			tail, err := h.store.FeedTail(ctx)
			if err == nil {
				h.offset.Store(tail)
				started = true
				h.healthy.Store(true)
				close(ready)
			} else if !h.retry(ctx, err, &backoff) {
				return
			}
			continue
		}
		off := h.offset.Load().(string)
		entries, err := h.store.ReadFeed(ctx, off, 512, 2*time.Second)
		if err != nil {
			if !h.retry(ctx, err, &backoff) {
				return
			}
			continue
		}
		backoff = 50 * time.Millisecond
		h.healthy.Store(true)
		if len(entries) > 0 {
			h.dispatch(entries)
			h.offset.Store(entries[len(entries)-1].Offset)
		}
	}
}

func (h *hub) retry(ctx context.Context, err error, backoff *time.Duration) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	if h.healthy.Swap(false) {
		h.log.Warn("feed read failed; retrying", "err", err)
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(*backoff):
	}
	*backoff = min(*backoff*2, 2*time.Second)
	return true
}

func (h *hub) dispatch(entries []session.FeedEntry) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, e := range entries {
		for s := range h.sessions[e.Session] {
			s.deliver(e)
		}
		for s := range h.operators {
			s.deliver(e)
		}
	}
}

// streamID is a parsed Redis stream id, for ordering offsets.
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = "0"
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return streamID{ms, seq}, err1 == nil && err2 == nil
}

func (a streamID) after(b streamID) bool {
	return a.ms > b.ms || a.ms == b.ms && a.seq > b.seq
}
