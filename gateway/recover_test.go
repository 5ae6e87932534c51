package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/session"
	"github.com/moodgate/moodgate/session/sessiontest"
)

// stuckResponder starts a generation and never finishes it until released,
// whatever its context says: to the store, the node that runs it is a node
// that died mid-generation.
type stuckResponder struct {
	started, release chan struct{}
	once             sync.Once
}

func (r *stuckResponder) Reply(ctx context.Context, req session.ReplyRequest, delta func(string)) (string, error) {
	r.once.Do(func() { close(r.started) })
	delta("생각 중")
	<-r.release
	return "늦은 답장", nil
}

func (r *stuckResponder) Name() string { return "stuck" }

// streamResponder answers at once in two deltas and records what it was asked.
type streamResponder struct{ asked chan session.ReplyRequest }

func (r streamResponder) Reply(ctx context.Context, req session.ReplyRequest, delta func(string)) (string, error) {
	r.asked <- req
	delta("기다리게 해서 ")
	delta("미안해요.")
	return "기다리게 해서 미안해요.", nil
}

func (r streamResponder) Name() string { return "stream" }

// TestReplyOwedByDeadNode: node A labels a message and starts streaming its
// reply, then never stores it (it died mid-generation). The user reconnects
// to node B, which waits out A's chat timeout, answers the message from its
// stored text and label, and stores the reply once: when A comes back to
// life and stores its late reply, nothing is stored.
func TestReplyOwedByDeadNode(t *testing.T) {
	redis := sessiontest.RealRedis(t)
	cfg := testConfig(t, func(c *gateway.Config) { c.ChatTimeout = 300 * time.Millisecond })
	stuck := &stuckResponder{started: make(chan struct{}), release: make(chan struct{})}
	var logA syncBuffer
	a := startNode(t, redis.Client(t), cfg, gateway.Deps{Classifier: lexiconDeps().Classifier, Responder: stuck,
		ReplyGrace: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logA, nil))})
	asked := make(chan session.ReplyRequest, 4)
	b := startNode(t, redis.Client(t), cfg, gateway.Deps{Classifier: lexiconDeps().Classifier,
		Responder: streamResponder{asked: asked}, ReplyGrace: 100 * time.Millisecond})
	defer close(stuck.release)

	user, w := connect(t, a, "", "", 0)
	user.say("m1", "요즘 너무 우울해요")
	fs := user.expect("ack", "emotion")
	<-stuck.started
	if f := user.next(); f.Type != "reply.delta" || f.Ref != 1 {
		t.Fatalf("A streams: %s", f.raw)
	}
	user.ws.Close() // A never stores its reply: the user gives up on it

	// On B the reply arrives as a stream and then the stored reply, to
	// message 1, in seq 3.
	user2, w2 := connect(t, b, w.SessionID, w.Token, fs[1].Seq)
	if !w2.Resumed || w2.Seq != 2 {
		t.Fatalf("resume on B: %s", w2.raw)
	}
	var req session.ReplyRequest
	select {
	case req = <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("B never answered the owed reply")
	}
	if req.Text != "요즘 너무 우울해요" || req.Result.Label.String() != fs[1].Label || req.SessionID != w.SessionID {
		t.Fatalf("B asked its responder %+v; the message was %q labelled %s", req, "요즘 너무 우울해요", fs[1].Label)
	}
	var deltas []string
	for {
		f := user2.next()
		if f.Type == "reply.delta" {
			deltas = append(deltas, f.Text)
			continue
		}
		if f.Type != "reply" || f.Seq != 3 || f.Ref != 1 || f.From != "bot" || f.Text != "기다리게 해서 미안해요." {
			t.Fatalf("B answered with %s", f.raw)
		}
		break
	}
	if strings.Join(deltas, "") != "기다리게 해서 미안해요." {
		t.Fatalf("deltas %q", deltas)
	}
	if got := scrape(t, b, "moodgate_replies_recovered_total"); got != 1 {
		t.Fatalf("recovered replies on B: %v", got)
	}

	// A wakes up and stores its late reply: refused, nothing stored.
	stuck.release <- struct{}{}
	if err := sessiontest.WaitFor(10*time.Second, func() error {
		if !strings.Contains(logA.String(), "the message was answered already") {
			return errors.New("A has not tried to store its reply yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// The conversation holds one answer, and a later connection owes none.
	all, w3 := connect(t, b, w.SessionID, w.Token, 0)
	if w3.Seq != 3 {
		t.Fatalf("stored %d events, want ack, emotion, reply", w3.Seq)
	}
	var got []string
	for i := 0; i < 3; i++ {
		f := all.next()
		got = append(got, fmt.Sprintf("%d:%s:%s", f.Seq, f.Type, f.Text))
	}
	if want := "[1:ack:요즘 너무 우울해요 2:emotion: 3:reply:기다리게 해서 미안해요.]"; fmt.Sprint(got) != want {
		t.Fatalf("replay %v, want %s", got, want)
	}
	user2.say("m2", "고마워요")
	user2.expect("ack", "emotion", "reply")
	if len(asked) != 1 { // m2's request
		t.Fatalf("B's responder was asked %d more times, want 1 (m2)", len(asked))
	}
}
