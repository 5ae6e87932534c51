package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/ollama"
	"github.com/moodgate/moodgate/ollama/ollamatest"
	"github.com/moodgate/moodgate/session/sessiontest"
)

// TestOllamaPath runs the production path against the fake Ollama server:
// the fine-tuned model labels (source "ollama"), the chat model's reply
// streams as reply.delta frames and is stored as one reply, and a crisis
// message never reaches the chat model.
func TestOllamaPath(t *testing.T) {
	fake := ollamatest.New("moodgate-emotion", "gemma2:2b")
	t.Cleanup(fake.Close)
	oc, err := ollama.New(ollama.Options{Hosts: []string{fake.URL}})
	if err != nil {
		t.Fatal(err)
	}
	cls, err := oc.NewClassifier(ollama.ClassifierConfig{Model: "moodgate-emotion"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := oc.NewResponder(ollama.ResponderConfig{Model: "gemma2:2b"})
	if err != nil {
		t.Fatal(err)
	}
	deps := gateway.Deps{
		Classifier: emotion.NewChain(cls, emotion.Embedded(), emotion.ChainOptions{}),
		Responder:  resp,
		Checks:     map[string]func(context.Context) error{"ollama": cls.Ready},
	}
	n := startNode(t, sessiontest.Miniredis(t), testConfig(t), deps)
	c, _ := connect(t, n, "", "", 0)

	c.say("m1", "오늘 친구랑 크게 싸워서 속상해요")
	ack := c.until("ack")
	em := c.until("emotion")
	if em.Source != "ollama" || em.Ref != ack.Seq {
		t.Fatalf("emotion %s", em.raw)
	}
	var streamed strings.Builder
	var deltas int
	var reply frame
	for reply.Type == "" {
		f := c.next()
		switch f.Type {
		case "reply.delta":
			if f.Ref != ack.Seq || f.Seq != 0 {
				t.Fatalf("delta %s", f.raw)
			}
			deltas++
			streamed.WriteString(f.Text)
		case "reply":
			reply = f
		default:
			t.Fatalf("unexpected %s", f.raw)
		}
	}
	if deltas < 2 || reply.Text != streamed.String() || reply.From != "bot" {
		t.Fatalf("%d deltas %q, reply %s", deltas, streamed.String(), reply.raw)
	}
	chats := len(fake.ChatRequests())
	if chats != 1 {
		t.Fatalf("chat requests %d", chats)
	}

	c.say("m2", "그냥 다 끝내고 죽고 싶어요")
	c.until("ack")
	if em := c.until("emotion"); !em.Crisis {
		t.Fatalf("crisis not flagged: %s", em.raw)
	}
	if f := c.next(); f.Type != "escalation" || f.Reason != "crisis" {
		t.Fatalf("after crisis %s", f.raw)
	}
	if got := len(fake.ChatRequests()); got != chats {
		t.Fatalf("a crisis message reached the chat model (%d chat requests)", got)
	}
}
