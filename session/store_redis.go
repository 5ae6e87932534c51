package session

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/append.lua
var appendLua string

var appendScript = redis.NewScript(appendLua)

// queueScore orders the escalation queue: severity first, then waiting time.
func queueScore(reason string, at time.Time) float64 {
	return float64((10-Severity(reason))*1e13) + float64(at.UnixMilli())
}

// RedisStore is the Store on Redis (a real server or miniredis). Keys of a
// session share a hash tag, so they land together; the feed, session index
// and queue are global keys (Redis Cluster is not supported).
//
// The two appends of every user message (the message with its client id,
// the label with its once-mark) go through go-redis's autopipeliner in its
// full-duplex form: one connection on which a writer streams the commands
// of every connection in flight and a reader takes the replies in order, so
// the appends of many connections share writes and reads instead of a
// round trip each, which saves the gateway and Redis most of their
// per-command system calls under load. (The half-duplex form, one batch at
// a time, left Redis idle between batches: slower than the plain client on
// an idle machine.) Each append is still one command whose reply its caller
// waits for. A stream that fails half-way may be sent again, so only
// appends that are safe to repeat go this way: a repeat of one with a
// client id or a once-mark stores nothing and answers "dup" or "done".
// Everything else (the feed's blocking XREAD above all) uses the plain
// client.
type RedisStore struct {
	rdb        redis.UniversalClient
	once       redis.Scripter // the autopipeliner, or rdb
	prefix     string
	ttl        time.Duration
	feedMaxLen int64
	timeline   int
}

var _ Store = (*RedisStore)(nil)

// RedisOptions configure a RedisStore; zero values mean the defaults.
type RedisOptions struct {
	Prefix      string        // default "mg:"
	TTL         time.Duration // default 30 days
	FeedMaxLen  int64         // default 100000
	TimelineCap int           // default 200
}

// NewRedisStore returns a store on rdb.
func NewRedisStore(rdb redis.UniversalClient, o RedisOptions) *RedisStore {
	if o.Prefix == "" {
		o.Prefix = "mg:"
	}
	if o.TTL <= 0 {
		o.TTL = 30 * 24 * time.Hour
	}
	if o.FeedMaxLen <= 0 {
		o.FeedMaxLen = 100000
	}
	if o.TimelineCap <= 0 {
		o.TimelineCap = 200
	}
	st := &RedisStore{rdb: rdb, once: rdb, prefix: o.Prefix, ttl: o.TTL, feedMaxLen: o.FeedMaxLen, timeline: o.TimelineCap}
	if c, ok := rdb.(*redis.Client); ok {
		cfg := redis.DefaultBlockingAutoPipelineOptions()
		cfg.FullDuplex = true
		if ap, err := c.AutoPipelineWithOptions(cfg); err == nil {
			st.once = ap
		}
	}
	return st
}

func (s *RedisStore) key(sid, name string) string { return s.prefix + "s:{" + sid + "}:" + name }

func (s *RedisStore) keys(sid string) []string {
	return []string{
		s.key(sid, "meta"), s.key(sid, "ev"), s.prefix + "feed", s.prefix + "sessions",
		s.key(sid, "ids"), s.key(sid, "tl"), s.prefix + "queue", s.key(sid, "fx"),
	}
}

func unavailable(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// AppendMessage implements Store.
func (s *RedisStore) AppendMessage(ctx context.Context, sid, clientID, text string, now time.Time) (Raw, State, bool, error) {
	ev := &Event{Type: TypeAck, TS: now.UnixMilli(), ID: clientID, Text: text, From: "user"}
	res, err := s.run(ctx, sid, []*Event{ev}, Change{}, clientID, now)
	if err != nil {
		return Raw{}, State{}, false, err
	}
	if res.status == "erased" {
		return Raw{}, res.state, false, ErrErased
	}
	if res.status == "dup" {
		return Raw{Seq: res.first, JSON: []byte(res.dupEvent), Labelled: res.labelled}, res.state, true, nil
	}
	return res.raws[0], res.state, false, nil
}

// Append implements Store.
func (s *RedisStore) Append(ctx context.Context, sid string, events []*Event, ch Change, now time.Time) ([]Raw, State, error) {
	res, err := s.run(ctx, sid, events, ch, "", now)
	if err != nil {
		return nil, State{}, err
	}
	switch res.status {
	case "conflict":
		return nil, res.state, ErrConflict
	case "held":
		return nil, res.state, ErrHeld
	case "erased":
		return nil, res.state, ErrErased
	case "done":
		if ch.ReplyRef > 0 {
			return nil, res.state, ErrReplied
		}
		return nil, res.state, ErrLabelled
	}
	return res.raws, res.state, nil
}

type appendResult struct {
	status   string
	first    int64
	state    State
	raws     []Raw
	dupEvent string
	labelled bool
}

func (s *RedisStore) run(ctx context.Context, sid string, events []*Event, ch Change, clientID string, now time.Time) (appendResult, error) {
	nowMs := now.UnixMilli()
	args := make([]any, 0, 16+2*len(events))
	expect := ""
	if ch.ExpectMoodVersion != nil {
		expect = strconv.FormatInt(*ch.ExpectMoodVersion, 10)
	}
	args = append(args, sid, nowMs, s.ttl.Milliseconds(), s.feedMaxLen, expect, clientID, ch.Holder, len(events))
	tails := make([]string, len(events))
	heads := make([]string, len(events))
	for i, e := range events {
		if e.TS == 0 {
			e.TS = nowMs
		}
		h, t, err := encodeSplit(e)
		if err != nil {
			return appendResult{}, err
		}
		heads[i], tails[i] = h, t
		args = append(args, h, t)
	}
	fields, err := ch.metaFields()
	if err != nil {
		return appendResult{}, err
	}
	args = append(args, len(fields)/2)
	args = append(args, fields...)
	point := ""
	if ch.Point != nil {
		b, err := appendPoint(make([]byte, 0, 192), ch.Point)
		if err != nil {
			return appendResult{}, err
		}
		point = string(b)
	}
	args = append(args, point, s.timeline)
	switch ch.Queue {
	case QueueAdd:
		reason := ""
		if ch.Reason != nil {
			reason = *ch.Reason
		}
		args = append(args, "add", queueScore(reason, ch.EscalatedAt))
	case QueueRemove:
		args = append(args, "del", 0)
	default:
		args = append(args, "", 0)
	}
	// Once-marks live in the client ids hash; client ids cannot contain
	// "#", so a mark never collides with one.
	mark := ""
	switch {
	case ch.LabelRef > 0 && ch.ReplyRef > 0:
		return appendResult{}, errors.New("session: an append is once per label or per reply, not both")
	case ch.LabelRef > 0:
		mark = "#" + strconv.FormatInt(ch.LabelRef, 10)
	case ch.ReplyRef > 0:
		mark = "#r" + strconv.FormatInt(ch.ReplyRef, 10)
	}
	args = append(args, mark)
	var rdb redis.Scripter = s.rdb
	if clientID != "" || mark != "" {
		rdb = s.once
	}
	v, err := appendScript.Run(ctx, rdb, s.keys(sid), args...).Slice()
	if err != nil {
		return appendResult{}, unavailable(err)
	}
	if len(v) < 4 {
		return appendResult{}, fmt.Errorf("session: append script returned %d values", len(v))
	}
	res := appendResult{}
	res.status, _ = v[0].(string)
	res.first, _ = v[1].(int64)
	flat, _ := v[2].([]any)
	// The mood this call wrote is the one in ch: the script does not send
	// it back.
	wrote := res.status == "ok" && ch.Mood != nil
	res.state = parseState(sid, flat)
	if wrote {
		res.state.Mood = *ch.Mood
		res.state.Mood.At = time.UnixMilli(ch.Mood.At.UnixMilli())
	}
	res.dupEvent, _ = v[3].(string)
	if len(v) > 4 {
		n, _ := v[4].(int64)
		res.labelled = n == 1
	}
	if res.status == "ok" {
		res.raws = make([]Raw, len(events))
		for i := range events {
			seq := res.first + int64(i)
			events[i].Seq = seq
			js := make([]byte, 0, len(heads[i])+20+len(tails[i]))
			js = strconv.AppendInt(append(js, heads[i]...), seq, 10)
			res.raws[i] = Raw{Seq: seq, JSON: append(js, tails[i]...)}
		}
	}
	return res, nil
}

func (ch Change) metaFields() ([]any, error) {
	var f []any
	if ch.Mood != nil {
		b, err := appendMoodState(make([]byte, 0, 384), ch.Mood)
		if err != nil {
			return nil, err
		}
		f = append(f, "mood", string(b))
	}
	if ch.Status != "" {
		f = append(f, "status", string(ch.Status))
	}
	if ch.Operator != nil {
		f = append(f, "op", *ch.Operator)
	}
	if ch.Reason != nil {
		f = append(f, "reason", *ch.Reason)
	}
	if !ch.EscalatedAt.IsZero() {
		f = append(f, "esc_at", ch.EscalatedAt.UnixMilli())
	}
	return f, nil
}

type moodJSON struct {
	Sum    [4]float64 `json:"sum"`
	Weight float64    `json:"w"`
	At     int64      `json:"at"`
	Mood   Mood       `json:"mood"`
}

// parseState reads a state from the meta hash as a flat field/value list.
func parseState(sid string, flat []any) State {
	st := State{ID: sid, Status: StatusBot}
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		switch k {
		case "seq":
			st.Seq, _ = strconv.ParseInt(v, 10, 64)
		case "status":
			st.Status = Status(v)
		case "op":
			st.Operator = v
		case "reason":
			st.Reason = v
		case "esc_at":
			st.EscalatedAt = msTime(v)
		case "created":
			st.CreatedAt = msTime(v)
		case "last":
			st.LastAt = msTime(v)
		case "erased":
			st.Erased = true
		case "mv":
			st.MoodVersion, _ = strconv.ParseInt(v, 10, 64)
		case "mood":
			if m, err := decodeMood(v); err == nil {
				st.Mood = MoodState{Sum: m.Sum, Weight: m.Weight, At: time.UnixMilli(m.At), Mood: m.Mood}
			}
		}
	}
	return st
}

func msTime(v string) time.Time {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// State implements Store.
func (s *RedisStore) State(ctx context.Context, sid string) (State, error) {
	sts, err := s.States(ctx, []string{sid})
	if err != nil {
		return State{}, err
	}
	return sts[0], nil
}

// States implements Store.
func (s *RedisStore) States(ctx context.Context, sids []string) ([]State, error) {
	cmds := make([]*redis.MapStringStringCmd, len(sids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, sid := range sids {
			cmds[i] = p.HGetAll(ctx, s.key(sid, "meta"))
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]State, len(sids))
	for i, c := range cmds {
		m := c.Val()
		flat := make([]any, 0, 2*len(m))
		for k, v := range m {
			flat = append(flat, k, v)
		}
		out[i] = parseState(sids[i], flat)
	}
	return out, nil
}

// Events implements Store.
func (s *RedisStore) Events(ctx context.Context, sid string, after int64, limit int) ([]Raw, error) {
	if after < 0 {
		after = 0
	}
	stop := int64(-1)
	if limit > 0 {
		stop = after + int64(limit) - 1
	}
	vals, err := s.rdb.LRange(ctx, s.key(sid, "ev"), after, stop).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]Raw, len(vals))
	for i, v := range vals {
		out[i] = Raw{Seq: after + int64(i) + 1, JSON: []byte(v)}
	}
	return out, nil
}

// Timeline implements Store.
func (s *RedisStore) Timeline(ctx context.Context, sid string) ([]Point, error) {
	// The list may hold a few points over the cap (append.lua trims it in
	// steps): the timeline is its last cap points.
	vals, err := s.rdb.LRange(ctx, s.key(sid, "tl"), -int64(s.timeline), -1).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]Point, 0, len(vals))
	for _, v := range vals {
		var p Point
		if json.Unmarshal([]byte(v), &p) == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// Recent implements Store.
func (s *RedisStore) Recent(ctx context.Context, limit int) ([]string, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.prefix+"sessions", 0, int64(limit)-1).Result()
	return ids, unavailable(err)
}

// Queue implements Store.
func (s *RedisStore) Queue(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.ZRange(ctx, s.prefix+"queue", 0, -1).Result()
	return ids, unavailable(err)
}

// Erase implements Store. It deletes the session's keys, its entries in the
// session index and queue, and its events on the shared feed, leaves a
// tombstone that refuses any further event, then puts an "erased" notice on
// the feed so dashboards drop it.
func (s *RedisStore) Erase(ctx context.Context, sid string) error {
	fx := s.key(sid, "fx")
	xids, err := s.rdb.LRange(ctx, fx, 0, -1).Result()
	if err != nil {
		return unavailable(err)
	}
	feed := s.prefix + "feed"
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for len(xids) > 0 {
			n := min(len(xids), 1000)
			p.XDel(ctx, feed, xids[:n]...)
			xids = xids[n:]
		}
		p.Del(ctx, s.key(sid, "meta"), s.key(sid, "ev"), s.key(sid, "ids"), s.key(sid, "tl"), fx)
		// A tombstone, for as long as the session's data would have lived:
		// the session id and its tokens are dead, so a client that still
		// holds them cannot bring the session back.
		p.HSet(ctx, s.key(sid, "meta"), "erased", 1)
		p.PExpire(ctx, s.key(sid, "meta"), s.ttl)
		p.ZRem(ctx, s.prefix+"sessions", sid)
		p.ZRem(ctx, s.prefix+"queue", sid)
		p.XAdd(ctx, &redis.XAddArgs{Stream: feed, MaxLen: s.feedMaxLen, Approx: true,
			Values: []any{"s", sid, "q", 0, "e", ErasedNotice}})
		return nil
	})
	return unavailable(err)
}

// ReadFeed implements Store.
func (s *RedisStore) ReadFeed(ctx context.Context, offset string, count int, block time.Duration) ([]FeedEntry, error) {
	if block <= 0 {
		// go-redis: Block < 0 sends no BLOCK argument.
		block = -1
	}
	res, err := s.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{s.prefix + "feed", offset}, Count: int64(count), Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	var out []FeedEntry
	for _, st := range res {
		for _, m := range st.Messages {
			out = append(out, feedEntry(m))
		}
	}
	return out, nil
}

func feedEntry(m redis.XMessage) FeedEntry {
	e := FeedEntry{Offset: m.ID}
	e.Session, _ = m.Values["s"].(string)
	q, _ := m.Values["q"].(string)
	e.Seq, _ = strconv.ParseInt(q, 10, 64)
	js, _ := m.Values["e"].(string)
	e.JSON = []byte(js)
	return e
}

// FeedTail implements Store.
func (s *RedisStore) FeedTail(ctx context.Context) (string, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.prefix+"feed", "+", "-", 1).Result()
	if err != nil {
		return "", unavailable(err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// Ping implements Store.
func (s *RedisStore) Ping(ctx context.Context) error { return unavailable(s.rdb.Ping(ctx).Err()) }

// ValidID reports whether s is a well-formed session id: 16-64 characters
// of [A-Za-z0-9_-].
func ValidID(s string) bool {
	if len(s) < 16 || len(s) > 64 {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0
}
