package gateway_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/moodgate/moodgate/session/sessiontest"
)

// TestEmbeddedDefaults runs one message through a gateway built with no
// classifier or responder: the embedded model labels it, the built-in
// responder answers.
func TestEmbeddedDefaults(t *testing.T) {
	n := startNode(t, sessiontest.Miniredis(t), testConfig(t))
	c, _ := connect(t, n, "", "", 0)
	c.say("m1", "오늘 너무 행복해요")
	fs := c.expect("ack", "emotion", "reply")
	sum := 0.0
	for _, p := range fs[1].Scores {
		sum += p
	}
	if fs[1].Source != "embedded" || fs[1].LabelKo == "" || sum < 0.999 || sum > 1.001 || fs[2].Text == "" {
		t.Fatalf("emotion %s reply %s", fs[1].raw, fs[2].raw)
	}
}

// TestChatEndToEnd drives real WebSocket clients against the gateway on a
// real redis-server and on the embedded miniredis.
func TestChatEndToEnd(t *testing.T) {
	for _, b := range sessiontest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			n := startNode(t, b.Start(t), testConfig(t), lexiconDeps())
			c, w := connect(t, n, "", "", 0)
			if w.SessionID == "" || w.Token == "" || w.Resumed || w.Seq != 0 {
				t.Fatalf("welcome %s", w.raw)
			}

			t.Run("message, ack, emotion, reply", func(t *testing.T) {
				c.say("m1", "오늘 친구랑 맛있는 거 먹어서 너무 행복해요!")
				fs := c.expect("ack", "emotion", "reply")
				if fs[0].ID != "m1" || fs[0].Seq != 1 {
					t.Fatalf("ack %s", fs[0].raw)
				}
				if fs[1].Ref != 1 || fs[1].Seq != 2 || fs[1].Source != "embedded" || fs[1].Label != "joy" || len(fs[1].Scores) != 4 {
					t.Fatalf("emotion %s", fs[1].raw)
				}
				if fs[2].From != "bot" || fs[2].Text == "" || fs[2].Ref != 1 || fs[2].Seq != 3 {
					t.Fatalf("reply %s", fs[2].raw)
				}
			})

			t.Run("three sad messages escalate", func(t *testing.T) {
				sad := []string{"요즘 너무 슬프고 눈물만 나요", "아무것도 하기 싫고 너무 우울해요", "계속 눈물이 나고 마음이 너무 아파요"}
				var last []frame
				for i, text := range sad {
					c.say(fmt.Sprint("s", i), text)
					if i < 2 {
						fs := c.expect("ack", "emotion", "reply")
						if fs[1].Label != "sadness" {
							t.Fatalf("%q labelled %s", text, fs[1].Label)
						}
					} else {
						last = c.expect("ack", "emotion", "escalation")
					}
				}
				if last[1].Label != "sadness" || last[2].Reason != "mood" {
					t.Fatalf("escalation %s / %s", last[1].raw, last[2].raw)
				}
			})

			t.Run("resume replays missed events in order", func(t *testing.T) {
				c.ws.Close()
				c2, w2 := connect(t, n, w.SessionID, w.Token, 3)
				if !w2.Resumed || w2.Seq != 12 {
					t.Fatalf("resume welcome %s", w2.raw)
				}
				for seq := int64(4); seq <= 12; seq++ {
					f := c2.next()
					if f.Seq != seq {
						t.Fatalf("replayed seq %d, want %d: %s", f.Seq, seq, f.raw)
					}
				}
				// Live events continue after the replay.
				c2.say("after", "고마워요")
				fs := c2.expect("ack", "emotion", "reply")
				if fs[0].Seq != 13 {
					t.Fatalf("ack after resume %s", fs[0].raw)
				}
			})

			t.Run("forged token refused", func(t *testing.T) {
				flipped := w.Token[:len(w.Token)-1] + "0"
				if w.Token[len(w.Token)-1] == '0' {
					flipped = w.Token[:len(w.Token)-1] + "1"
				}
				for _, tok := range []string{"", "00", flipped, w.Token + "00"} {
					_, resp, err := dial(t, n.wsURL("/ws?session="+w.SessionID+"&token="+tok), nil)
					if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
						t.Fatalf("token %q: err %v resp %v", tok, err, resp)
					}
				}
				// A token of one session does not open another.
				_, other := connect(t, n, "", "", 0)
				_, resp, err := dial(t, n.wsURL("/ws?session="+other.SessionID+"&token="+w.Token), nil)
				if err == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("replayed token: %v %v", err, resp)
				}
			})
		})
	}
}
