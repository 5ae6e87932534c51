package gateway_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/session/sessiontest"
)

// TestOperatorCatchUpOverflow: while a dashboard catches up from an old
// offset, far more live events arrive than its buffer holds (the send queue
// cap, 4 KiB here). The buffer drops them and the catch-up reads them again
// from Redis: the dashboard still gets every event after its offset exactly
// once, in order, then live events; the overflow is counted.
func TestOperatorCatchUpOverflow(t *testing.T) {
	cfg := testConfig(t, func(c *gateway.Config) { c.SendQueueBytes = 4 << 10 })
	n := startNode(t, sessiontest.RealRedis(t).Client(t), cfg, lexiconDeps())
	watcher, _ := connectOperator(t, n, testOpToken2, "")
	user, w := connect(t, n, "", "", 0)
	user.say("a", "안녕하세요")
	user.expect("ack", "emotion", "reply")
	for i := 0; i < 3; i++ {
		watcher.event()
	}
	offset := watcher.offset // after seq 3
	const last = 3 + 40*3

	// During the first page of the catch-up, 40 messages (120 events,
	// about 30 KiB) go through the feed; the watcher, reading live, shows
	// when the feed reader has handed them all out.
	var once sync.Once
	restore := gateway.SetCatchUpPageHook(func() {
		once.Do(func() {
			for i := 0; i < 40; i++ {
				user.say(fmt.Sprint("b", i), "오늘은 그냥 그래요")
				user.expect("ack", "emotion", "reply")
			}
			for {
				if _, ev := watcher.event(); ev.Seq == last {
					break
				}
			}
		})
	})
	defer restore()
	op, _ := connectOperator(t, n, testOpToken, offset)
	for want := int64(4); want <= last; want++ {
		sid, ev := op.event()
		if sid != w.SessionID || ev.Seq != want {
			t.Fatalf("catch-up: session %s seq %d, want %d (%s)", sid, ev.Seq, want, ev.raw)
		}
	}
	user.say("c", "고마워요")
	if _, ev := op.event(); ev.Seq != last+1 {
		t.Fatalf("live after the catch-up: %s", ev.raw)
	}
	if got := scrape(t, n, "moodgate_operator_catchup_overflows_total"); got < 1 {
		t.Fatalf("overflows counted: %v, want at least 1", got)
	}
}
