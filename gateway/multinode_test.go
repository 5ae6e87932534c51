package gateway_test

import (
	"fmt"
	"testing"

	"github.com/moodgate/moodgate/session/sessiontest"
)

// TestTwoNodes runs two gateways on one real redis-server: a user on node A
// and an operator on node B see each other live; when node A dies the user
// resumes on node B with every acknowledged message and no duplicate.
func TestTwoNodes(t *testing.T) {
	redis := sessiontest.RealRedis(t)
	cfg := testConfig(t) // same secret and prefix on both nodes
	a := startNode(t, redis.Client(t), cfg, lexiconDeps())
	b := startNode(t, redis.Client(t), cfg, lexiconDeps())

	op, _ := connectOperator(t, b, testOpToken, "")
	user, w := connect(t, a, "", "", 0)
	sid := w.SessionID

	user.say("m1", "요즘 너무 우울해요")
	user.expect("ack", "emotion", "reply")
	if ev := op.untilEvent(sid, "ack"); ev.Text != "요즘 너무 우울해요" {
		t.Fatalf("operator on B saw %s", ev.raw)
	}
	// The operator on B claims and writes; the user on A sees it live.
	if resp, _ := opRequest(t, b, "POST", "/api/operator/sessions/"+sid+"/claim", testOpToken, ""); resp.StatusCode != 200 {
		t.Fatalf("claim on B: %d", resp.StatusCode)
	}
	if resp, _ := opRequest(t, b, "POST", "/api/operator/sessions/"+sid+"/messages", testOpToken, `{"text":"안녕하세요, 상담사입니다."}`); resp.StatusCode != 200 {
		t.Fatalf("message on B: %d", resp.StatusCode)
	}
	user.until("operator")
	if f := user.next(); f.Type != "reply" || f.From != "operator" || f.Text != "안녕하세요, 상담사입니다." {
		t.Fatalf("user on A got %s", f.raw)
	}
	user.say("m2", "네 고마워요")
	fs := user.expect("ack", "emotion")
	if ev := op.untilEvent(sid, "ack"); ev.ID != "m2" {
		t.Fatalf("operator on B saw %s", ev.raw)
	}
	lastSeen := fs[1].Seq
	acked := map[string]int64{"m1": 1, "m2": fs[0].Seq}

	// Node A dies; the user resumes on B from the last seq it saw.
	a.stop()
	user2, w2 := connect(t, b, sid, w.Token, lastSeen)
	if !w2.Resumed || w2.Seq != lastSeen {
		t.Fatalf("resume on B: %s", w2.raw)
	}
	for i := 0; i < 3; i++ {
		id := fmt.Sprint("n", i)
		user2.say(id, "계속 이야기해도 될까요")
		acked[id] = user2.expect("ack", "emotion")[0].Seq
	}
	if resp, _ := opRequest(t, b, "POST", "/api/operator/sessions/"+sid+"/resolve", testOpToken, ""); resp.StatusCode != 200 {
		t.Fatalf("resolve: %d", resp.StatusCode)
	}
	user2.until("operator")

	// A fresh client replays everything: seqs 1..N without a gap or repeat,
	// every acknowledged message in place.
	all, _ := connect(t, b, sid, w.Token, 0)
	want := w2.Seq + 3*2 + 1
	texts := map[int64]string{}
	for seq := int64(1); seq <= want; seq++ {
		f := all.next()
		if f.Seq != seq {
			t.Fatalf("replay: seq %d, want %d", f.Seq, seq)
		}
		if f.Type == "ack" {
			texts[f.Seq] = f.ID
		}
	}
	for id, seq := range acked {
		if texts[seq] != id {
			t.Fatalf("acknowledged message %s (seq %d) missing from the replay", id, seq)
		}
	}
}
