package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/session"
	"github.com/moodgate/moodgate/session/sessiontest"
)

// forEachBackend runs f against a real redis-server and against miniredis.
func forEachBackend(t *testing.T, f func(t *testing.T, rdb *redis.Client, prefix string)) {
	for _, b := range sessiontest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			f(t, b.Start(t), sessiontest.Prefix(t))
		})
	}
}

func newManager(rdb redis.UniversalClient, prefix string, now func() time.Time) *session.Manager {
	return &session.Manager{
		Store:       session.NewRedisStore(rdb, session.RedisOptions{Prefix: prefix}),
		Policy:      session.DefaultPolicy(),
		Now:         now,
		CrisisReply: "109",
	}
}

func labelled(l emotion.Label, p float64) emotion.Result {
	var s emotion.Scores
	for i := range s {
		s[i] = (1 - p) / 3
	}
	s[l] = p
	return emotion.Result{Label: l, Scores: s, Source: emotion.SourceEmbedded}
}

const sid = "sess-0123456789abcdef"

func types(t *testing.T, raws []session.Raw) []string {
	t.Helper()
	var out []string
	for _, r := range raws {
		var e struct {
			Type string `json:"type"`
			Seq  int64  `json:"seq"`
		}
		if err := json.Unmarshal(r.JSON, &e); err != nil {
			t.Fatalf("stored event is not JSON: %v: %s", err, r.JSON)
		}
		if e.Seq != r.Seq {
			t.Fatalf("event seq %d, raw seq %d", e.Seq, r.Seq)
		}
		out = append(out, fmt.Sprintf("%d:%s", e.Seq, e.Type))
	}
	return out
}

func TestStoreAppendAndReplay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb *redis.Client, prefix string) {
		ctx := context.Background()
		m := newManager(rdb, prefix, nil)
		raw, st, dup, err := m.Accept(ctx, sid, "c1", "안녕하세요")
		if err != nil || dup || raw.Seq != 1 || st.Seq != 1 {
			t.Fatalf("accept: %v dup=%v seq=%d state=%+v", err, dup, raw.Seq, st)
		}
		out, err := m.Label(ctx, st, raw.Seq, "안녕하세요", labelled(emotion.Neutral, 0.9), session.Builtin{})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(types(t, out.Events)); got != "[2:emotion 3:reply]" {
			t.Fatalf("events %s", got)
		}
		// The same client id again stores nothing and returns the first ack.
		raw2, _, dup, err := m.Accept(ctx, sid, "c1", "안녕하세요")
		if err != nil || !dup || !raw2.Labelled || raw2.Seq != 1 || string(raw2.JSON) != string(raw.JSON) {
			t.Fatalf("dup: %v %v %d %s", err, dup, raw2.Seq, raw2.JSON)
		}
		all, err := m.Store.Events(ctx, sid, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(types(t, all)); got != "[1:ack 2:emotion 3:reply]" {
			t.Fatalf("replay %s", got)
		}
		after, _ := m.Store.Events(ctx, sid, 1, 0)
		if got := fmt.Sprint(types(t, after)); got != "[2:emotion 3:reply]" {
			t.Fatalf("replay after 1: %s", got)
		}
		tl, err := m.Store.Timeline(ctx, sid)
		if err != nil || len(tl) != 1 || tl[0].Label != "neutral" || tl[0].Seq != 1 {
			t.Fatalf("timeline %v %+v", err, tl)
		}
		feed, err := m.Store.ReadFeed(ctx, "0", 100, 0)
		if err != nil || len(feed) != 3 || feed[2].Seq != 3 || feed[0].Session != sid {
			t.Fatalf("feed %v %+v", err, feed)
		}
		if ttl := rdb.PTTL(ctx, prefix+"s:{"+sid+"}:ev").Val(); ttl <= 0 || ttl > 30*24*time.Hour {
			t.Fatalf("events TTL %v", ttl)
		}
	})
}

func TestLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb *redis.Client, prefix string) {
		ctx := context.Background()
		clock := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		m := newManager(rdb, prefix, func() time.Time { return clock })
		send := func(id, text string, r emotion.Result) session.Labelled {
			t.Helper()
			raw, st, _, err := m.Accept(ctx, sid, id, text)
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Label(ctx, st, raw.Seq, text, r, session.Builtin{})
			if err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(time.Second)
			return out
		}
		for i := 0; i < 2; i++ {
			if out := send(fmt.Sprint("s", i), "너무 슬퍼요", labelled(emotion.Sadness, 0.8)); out.Route.Escalate != "" {
				t.Fatalf("escalated after %d sad messages", i+1)
			}
		}
		out := send("s2", "너무 슬퍼요", labelled(emotion.Sadness, 0.8))
		if out.Route.Escalate != session.ReasonMood || out.State.Status != session.StatusEscalated {
			t.Fatalf("third sad message: %+v", out)
		}
		q, _ := m.Store.Queue(ctx)
		if len(q) != 1 || q[0] != sid {
			t.Fatalf("queue %v", q)
		}
		// While escalated the bot answers with the waiting reply, no new escalation.
		out = send("s3", "죽고 싶어요", emotion.Result{Label: emotion.Sadness, Scores: labelled(emotion.Sadness, 0.9).Scores, Crisis: true})
		if out.Route.Escalate != "" || len(out.Events) != 2 {
			t.Fatalf("while escalated: %+v", out)
		}
		if _, err := m.Claim(ctx, sid, "kim"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Claim(ctx, sid, "lee"); !errors.Is(err, session.ErrHeld) {
			t.Fatalf("second claim: %v", err)
		}
		out = send("s4", "네", labelled(emotion.Neutral, 0.9))
		if len(out.Events) != 1 {
			t.Fatalf("bot must be silent while claimed: %d events", len(out.Events))
		}
		if _, err := m.Reply(ctx, sid, 0, "operator", "lee", "hi", ""); !errors.Is(err, session.ErrHeld) {
			t.Fatalf("reply by non-holder: %v", err)
		}
		if _, err := m.Reply(ctx, sid, 0, "operator", "kim", "괜찮으세요?", ""); err != nil {
			t.Fatal(err)
		}
		st, err := m.Resolve(ctx, sid, "kim")
		if err != nil || st.Status != session.StatusBot || st.Operator != "" {
			t.Fatalf("resolve: %v %+v", err, st)
		}
		if q, _ := m.Store.Queue(ctx); len(q) != 0 {
			t.Fatalf("queue after resolve %v", q)
		}
		if out := send("s5", "고마워요", labelled(emotion.Joy, 0.9)); len(out.Events) != 2 {
			t.Fatalf("bot answers again: %d events", len(out.Events))
		}
		if err := m.Erase(ctx, sid); err != nil {
			t.Fatal(err)
		}
		st, _ = m.Store.State(ctx, sid)
		ev, _ := m.Store.Events(ctx, sid, 0, 0)
		keys, _ := rdb.Keys(ctx, prefix+"s:*").Result()
		if st.Exists() || len(ev) != 0 || len(keys) != 1 || keys[0] != prefix+"s:{"+sid+"}:meta" {
			t.Fatalf("after erase: state %+v, %d events, keys %v", st, len(ev), keys)
		}
		feed, _ := m.Store.ReadFeed(ctx, "0", 1000, 0)
		if len(feed) != 1 || feed[0].Seq != 0 {
			t.Fatalf("feed after erase holds %d entries", len(feed))
		}
		if err := m.Erase(ctx, sid); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("erase twice: %v", err)
		}
		// The erased id takes no more events: a client holding its token
		// cannot bring the session back.
		if st, _ := m.Store.State(ctx, sid); !st.Erased || st.Exists() {
			t.Fatalf("tombstone state %+v", st)
		}
		if _, _, _, err := m.Accept(ctx, sid, "again", "hello"); !errors.Is(err, session.ErrErased) {
			t.Fatalf("message to an erased session: %v", err)
		}
		if _, err := m.Reply(ctx, sid, 0, "operator", "kim", "hi", ""); !errors.Is(err, session.ErrErased) {
			t.Fatalf("reply to an erased session: %v", err)
		}
	})
}

func TestCrisisEscalatesOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb *redis.Client, prefix string) {
		ctx := context.Background()
		m := newManager(rdb, prefix, nil)
		crisis := labelled(emotion.Sadness, 0.6)
		crisis.Crisis = true
		raw, st, _, _ := m.Accept(ctx, sid, "a", "죽고 싶어")
		out, err := m.Label(ctx, st, raw.Seq, "죽고 싶어", crisis, session.Builtin{})
		if err != nil || out.Route.Escalate != session.ReasonCrisis {
			t.Fatalf("%v %+v", err, out.Route)
		}
		// "괜찮아요" does not end the crisis state.
		raw, st, _, _ = m.Accept(ctx, sid, "b", "괜찮아요")
		out, err = m.Label(ctx, st, raw.Seq, "괜찮아요", labelled(emotion.Neutral, 0.9), session.Builtin{})
		if err != nil || out.State.Status != session.StatusEscalated || out.State.Reason != session.ReasonCrisis {
			t.Fatalf("after 괜찮아요: %v %+v", err, out.State)
		}
	})
}

func TestConcurrentLabelsKeepEveryMessage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb *redis.Client, prefix string) {
		ctx := context.Background()
		m := newManager(rdb, prefix, nil)
		var wg sync.WaitGroup
		const n = 20
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				raw, st, _, err := m.Accept(ctx, sid, fmt.Sprint("m", i), "hello")
				if err == nil {
					_, err = m.Label(ctx, st, raw.Seq, "hello", labelled(emotion.Joy, 0.9), session.Builtin{})
				}
				if err != nil {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		st, _ := m.Store.State(ctx, sid)
		if st.Mood.Mood.Messages != n || st.Seq != 3*n {
			t.Fatalf("messages %d seq %d, want %d and %d", st.Mood.Mood.Messages, st.Seq, n, 3*n)
		}
	})
}

// countHook counts the round trips go-redis makes: one per command or
// pipeline.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestHotPathRoundTrips counts the Redis round trips of one user message:
// store it and assign its seq (1), then label, update the mood, route and
// store the emotion and the reply (2). go-redis's Script.Run sends EVALSHA
// and, only when the script is not cached yet, EVAL: the first message
// warms the cache.
func TestHotPathRoundTrips(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb *redis.Client, prefix string) {
		ctx := context.Background()
		hook := &countHook{}
		rdb.AddHook(hook)
		m := newManager(rdb, prefix, nil)
		one := func(id string) int64 {
			before := hook.n.Load()
			raw, st, _, err := m.Accept(ctx, sid, id, "오늘 기분이 좋아요")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Label(ctx, st, raw.Seq, "오늘 기분이 좋아요", labelled(emotion.Joy, 0.9), session.Builtin{}); err != nil {
				t.Fatal(err)
			}
			return hook.n.Load() - before
		}
		one("warm")
		var counts []int64
		for i := 0; i < 5; i++ {
			n := one(fmt.Sprint("m", i))
			if n != 2 {
				t.Fatalf("message %d took %d round trips, want 2", i, n)
			}
			counts = append(counts, n)
		}
		t.Logf("measured round trips per message (store, label, mood, route, reply): %v", counts)
	})
}

func TestStoreUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	m := newManager(rdb, "x:", nil)
	if _, _, _, err := m.Accept(context.Background(), sid, "a", "hi"); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

// TestQueueOrder: crisis first, then requests, then mood; within a
// severity the longest waiting first.
func TestQueueOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb *redis.Client, prefix string) {
		ctx := context.Background()
		clock := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		m := newManager(rdb, prefix, func() time.Time { return clock })
		escalate := func(sid, text string, r emotion.Result) {
			t.Helper()
			raw, st, _, err := m.Accept(ctx, sid, "x", text)
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Label(ctx, st, raw.Seq, text, r, session.Builtin{})
			if err != nil || out.Route.Escalate == "" {
				t.Fatalf("%s: %v %+v", sid, err, out.Route)
			}
			clock = clock.Add(time.Minute)
		}
		crisis := labelled(emotion.Sadness, 0.9)
		crisis.Crisis = true
		neutral := labelled(emotion.Neutral, 0.9)
		escalate("request-old-0000001", "상담사 연결해 주세요", neutral)
		escalate("crisis-newer-000001", "죽고 싶어", crisis)
		escalate("request-new-0000001", "사람이랑 얘기하고 싶어요", neutral)
		escalate("crisis-newest-00001", "죽고 싶어", crisis)
		q, err := m.Store.Queue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := "[crisis-newer-000001 crisis-newest-00001 request-old-0000001 request-new-0000001]"
		if fmt.Sprint(q) != want {
			t.Fatalf("queue %v, want %s", q, want)
		}
	})
}

// TestSessionKeysExpire checks that every key of a session gets the TTL,
// including keys made after the session's first event (the timeline, and
// the client ids hash when the first event had no client id), and that the
// TTL is refreshed once it has run down by more than the slack (ttl/100).
func TestSessionKeysExpire(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb *redis.Client, prefix string) {
		ctx := context.Background()
		const ttl = time.Hour // slack 36 s
		clock := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		m := &session.Manager{
			Store:  session.NewRedisStore(rdb, session.RedisOptions{Prefix: prefix, TTL: ttl}),
			Policy: session.DefaultPolicy(),
			Now:    func() time.Time { return clock },
		}
		key := func(name string) string { return prefix + "s:{" + sid + "}:" + name }
		checkTTL := func(names ...string) {
			t.Helper()
			for _, n := range names {
				if d := rdb.PTTL(ctx, key(n)).Val(); d <= 0 || d > ttl {
					t.Fatalf("%s: TTL %v, want in (0, %v]", n, d, ttl)
				}
			}
		}
		deadline := func() int64 {
			t.Helper()
			x, err := rdb.HGet(ctx, key("meta"), "x").Int64()
			if err != nil {
				t.Fatal(err)
			}
			return x
		}
		// An operator's reply first: no client id, no timeline yet.
		if _, err := m.Reply(ctx, sid, 0, "operator", "kim", "안녕하세요", ""); err != nil {
			t.Fatal(err)
		}
		checkTTL("meta", "ev", "fx")
		if n := rdb.Exists(ctx, key("ids"), key("tl")).Val(); n != 0 {
			t.Fatalf("%d of ids, tl exist before any message", n)
		}
		start := clock.Add(ttl).UnixMilli()
		if got := deadline(); got != start {
			t.Fatalf("deadline %d, want %d", got, start)
		}
		clock = clock.Add(10 * time.Second)
		raw, st, _, err := m.Accept(ctx, sid, "c1", "안녕")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Label(ctx, st, raw.Seq, "안녕", labelled(emotion.Neutral, 0.9), session.Builtin{}); err != nil {
			t.Fatal(err)
		}
		checkTTL("meta", "ev", "fx", "ids", "tl")
		if got := deadline(); got != start {
			t.Fatalf("deadline moved to %d within the slack", got)
		}
		// 40 s after the deadline was set: more than the slack, refreshed.
		clock = clock.Add(30 * time.Second)
		if _, _, _, err := m.Accept(ctx, sid, "c2", "또 안녕"); err != nil {
			t.Fatal(err)
		}
		checkTTL("meta", "ev", "fx", "ids", "tl")
		if got, want := deadline(), clock.Add(ttl).UnixMilli(); got != want {
			t.Fatalf("deadline %d, want %d after the slack", got, want)
		}
		// A clock that went back refreshes too, so no key outlives the TTL.
		clock = clock.Add(-10 * time.Minute)
		if _, _, _, err := m.Accept(ctx, sid, "c3", "시계가 돌아갔어요"); err != nil {
			t.Fatal(err)
		}
		if got, want := deadline(), clock.Add(ttl).UnixMilli(); got != want {
			t.Fatalf("deadline %d, want %d after the clock went back", got, want)
		}
	})
}

// TestTimelineCap: the timeline holds the last TimelineCap points, however
// the stored list is trimmed.
func TestTimelineCap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb *redis.Client, prefix string) {
		ctx := context.Background()
		const capPoints = 5
		m := &session.Manager{
			Store:  session.NewRedisStore(rdb, session.RedisOptions{Prefix: prefix, TimelineCap: capPoints}),
			Policy: session.DefaultPolicy(),
		}
		for i := 1; i <= 60; i++ {
			raw, st, _, err := m.Accept(ctx, sid, fmt.Sprint("c", i), "안녕")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Label(ctx, st, raw.Seq, "안녕", labelled(emotion.Neutral, 0.9), session.Builtin{}); err != nil {
				t.Fatal(err)
			}
			tl, err := m.Store.Timeline(ctx, sid)
			if err != nil {
				t.Fatal(err)
			}
			want := min(i, capPoints)
			if len(tl) != want || tl[len(tl)-1].Seq != raw.Seq {
				t.Fatalf("after %d messages: %d points ending at seq %d, want %d ending at %d", i, len(tl), tl[len(tl)-1].Seq, want, raw.Seq)
			}
		}
		if n := rdb.LLen(ctx, prefix+"s:{"+sid+"}:tl").Val(); n > capPoints+32 {
			t.Fatalf("stored timeline holds %d points", n)
		}
	})
}
