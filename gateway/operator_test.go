package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/moodgate/moodgate/session/sessiontest"
)

// opClient is an operator's live feed.
type opClient struct {
	*client
	offset string
}

func connectOperator(t testing.TB, n *node, token, offset string) (*opClient, frame) {
	t.Helper()
	c, _, err := dial(t, n.wsURL("/ws/operator"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.send(map[string]string{"type": "auth", "token": token, "offset": offset})
	ready := c.next()
	return &opClient{client: c, offset: ready.Offset}, ready
}

// event reads the next feed event and remembers its offset.
func (o *opClient) event() (string, frame) {
	o.t.Helper()
	f := o.next()
	if f.Type != "event" {
		o.t.Fatalf("feed frame %s", f.raw)
	}
	o.offset = f.Offset
	var ev frame
	json.Unmarshal(f.Event, &ev)
	ev.raw = string(f.Event)
	return f.SessionID, ev
}

// untilEvent reads feed events until one of type typ for session sid.
func (o *opClient) untilEvent(sid, typ string) frame {
	o.t.Helper()
	for {
		s, ev := o.event()
		if s == sid && ev.Type == typ {
			return ev
		}
	}
}

func TestOperatorAPI(t *testing.T) {
	for _, b := range sessiontest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			n := startNode(t, b.Start(t), testConfig(t), lexiconDeps())
			op, ready := connectOperator(t, n, testOpToken, "")
			if ready.Type != "ready" || ready.Offset == "" {
				t.Fatalf("ready %s", ready.raw)
			}
			user, w := connect(t, n, "", "", 0)
			sid := w.SessionID

			// A crisis escalates at once and reaches the operator's feed.
			user.say("c1", "이제 그만 죽고 싶어요")
			fs := user.expect("ack", "emotion", "escalation")
			if !fs[1].Crisis || fs[2].Reason != "crisis" {
				t.Fatalf("crisis: %s / %s", fs[1].raw, fs[2].raw)
			}
			if ev := op.untilEvent(sid, "escalation"); ev.Reason != "crisis" {
				t.Fatalf("operator saw %s", ev.raw)
			}

			resp, body := opRequest(t, n, "GET", "/api/operator/queue", testOpToken, "")
			q, _ := body["escalations"].([]any)
			if resp.StatusCode != 200 || len(q) != 1 || q[0].(map[string]any)["reason"] != "crisis" {
				t.Fatalf("queue %d %v", resp.StatusCode, body)
			}
			resp, body = opRequest(t, n, "GET", "/api/operator/sessions", testOpToken, "")
			ss, _ := body["sessions"].([]any)
			if resp.StatusCode != 200 || len(ss) != 1 || ss[0].(map[string]any)["needs_person"] != true {
				t.Fatalf("sessions %v", body)
			}

			// Claim: the bot goes silent, the user sees the operator join.
			if resp, _ := opRequest(t, n, "POST", "/api/operator/sessions/"+sid+"/claim", testOpToken, ""); resp.StatusCode != 200 {
				t.Fatalf("claim %d", resp.StatusCode)
			}
			if f := user.until("operator"); f.Action != "claimed" || f.Operator != "kim" {
				t.Fatalf("claimed %s", f.raw)
			}
			if resp, _ := opRequest(t, n, "POST", "/api/operator/sessions/"+sid+"/claim", testOpToken2, ""); resp.StatusCode != http.StatusConflict {
				t.Fatalf("second claim %d", resp.StatusCode)
			}
			user.say("u2", "네 듣고 있어요")
			user.expect("ack", "emotion")
			if resp, body := opRequest(t, n, "POST", "/api/operator/sessions/"+sid+"/messages", testOpToken, `{"text":"많이 힘드셨죠. 저는 상담사 김입니다."}`); resp.StatusCode != 200 {
				t.Fatalf("operator message %d %v", resp.StatusCode, body)
			}
			if f := user.next(); f.Type != "reply" || f.From != "operator" || f.Operator != "kim" {
				t.Fatalf("user got %s (the bot must stay silent while claimed)", f.raw)
			}

			// Resolve: the bot answers again.
			if resp, _ := opRequest(t, n, "POST", "/api/operator/sessions/"+sid+"/resolve", testOpToken, ""); resp.StatusCode != 200 {
				t.Fatalf("resolve %d", resp.StatusCode)
			}
			if f := user.until("operator"); f.Action != "resolved" {
				t.Fatalf("resolved %s", f.raw)
			}
			user.say("u3", "고마워요")
			if fs := user.expect("ack", "emotion", "reply"); fs[2].From != "bot" {
				t.Fatalf("bot reply %s", fs[2].raw)
			}

			// Transcript and timeline.
			resp, body = opRequest(t, n, "GET", "/api/operator/sessions/"+sid, testOpToken, "")
			evs, _ := body["events"].([]any)
			tl, _ := body["timeline"].([]any)
			if resp.StatusCode != 200 || len(evs) != 11 || len(tl) != 3 {
				t.Fatalf("session: %d, %d events, %d points", resp.StatusCode, len(evs), len(tl))
			}

			// Erase: everything goes, the user's socket is closed.
			if resp, _ := opRequest(t, n, "DELETE", "/api/operator/sessions/"+sid, testOpToken, ""); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("erase %d", resp.StatusCode)
			}
			if resp, _ := opRequest(t, n, "GET", "/api/operator/sessions/"+sid, testOpToken, ""); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("after erase %d", resp.StatusCode)
			}
			// The erased session cannot be resumed with its old token.
			if _, resp, err := dial(t, n.wsURL("/ws?session="+sid+"&token="+w.Token), nil); err == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("resume of an erased session: %v %v", err, resp)
			}
		})
	}
}

func TestOperatorAuth(t *testing.T) {
	n := startNode(t, sessiontest.Miniredis(t), testConfig(t))
	for _, tok := range []string{"", "wrong-token-0123456789", testOpToken + "x", testOpToken[:10]} {
		for _, path := range []string{"/api/operator/me", "/api/operator/sessions", "/api/operator/queue", "/debug/pprof/"} {
			if resp, _ := opRequest(t, n, "GET", path, tok, ""); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s with %q: %d", path, tok, resp.StatusCode)
			}
		}
	}
	if resp, body := opRequest(t, n, "GET", "/api/operator/me", testOpToken2, ""); resp.StatusCode != 200 || body["name"] != "lee" {
		t.Fatalf("me: %d %v", resp.StatusCode, body)
	}
	c, _, err := dial(t, n.wsURL("/ws/operator"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.send(map[string]string{"type": "auth", "token": "nope-nope-nope-nope"})
	c.ws.SetReadDeadline(deadline())
	if _, _, err := c.ws.ReadMessage(); err == nil || !isClose(err, 1008) {
		t.Fatalf("bad operator token: %v", err)
	}
}

// TestOperatorFeedResumes shows that a dashboard that reconnects with its
// last offset receives every event it missed, in order, and nothing twice.
func TestOperatorFeedResumes(t *testing.T) {
	n := startNode(t, sessiontest.RealRedis(t).Client(t), testConfig(t), lexiconDeps())
	op, _ := connectOperator(t, n, testOpToken, "")
	user, w := connect(t, n, "", "", 0)
	user.say("a", "안녕하세요")
	user.expect("ack", "emotion", "reply")
	for i := 0; i < 3; i++ {
		op.event()
	}
	last := op.offset
	op.ws.Close()
	for i := 0; i < 4; i++ {
		user.say(fmt.Sprint("b", i), "오늘 좋아요")
		user.expect("ack", "emotion", "reply")
	}
	op2, _ := connectOperator(t, n, testOpToken, last)
	for want := int64(4); want <= 15; want++ {
		sid, ev := op2.event()
		if sid != w.SessionID || ev.Seq != want {
			t.Fatalf("resumed feed: session %s seq %d, want %d (%s)", sid, ev.Seq, want, ev.raw)
		}
	}
	user.say("c", "고마워요")
	if _, ev := op2.event(); ev.Seq != 16 {
		t.Fatalf("live after catch-up: %s", ev.raw)
	}
}
