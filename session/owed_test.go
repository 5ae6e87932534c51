package session_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/session"
)

// TestOwedReply shows which sessions owe a bot reply: only one whose last
// event is the label of a message whose streamed reply was never stored.
// And that the bot answers a message once: a second bot reply to it (a
// node that recovered it racing the node that owed it) stores nothing.
func TestOwedReply(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb *redis.Client, prefix string) {
		ctx := context.Background()
		clock := time.UnixMilli(1_800_000_000_000)
		m := newManager(rdb, prefix, func() time.Time { return clock })
		owed := func(want bool, what string) session.Owed {
			t.Helper()
			st, err := m.Store.State(ctx, sid)
			if err != nil {
				t.Fatal(err)
			}
			o, ok, err := m.OwedReply(ctx, st)
			if err != nil || ok != want {
				t.Fatalf("%s: owed=%v err=%v, want owed=%v", what, ok, err, want)
			}
			return o
		}
		say := func(id, text string, r emotion.Result, inline session.Responder) (int64, session.Labelled) {
			t.Helper()
			raw, st, _, err := m.Accept(ctx, sid, id, text)
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Label(ctx, st, raw.Seq, text, r, inline)
			if err != nil {
				t.Fatal(err)
			}
			return raw.Seq, out
		}
		owed(false, "no session")

		// A streamed reply (no inline responder) that is not stored yet.
		ref, out := say("m1", "오늘 좀 우울해요", labelled(emotion.Sadness, 0.7), nil)
		if !out.ReplyPending {
			t.Fatal("the reply should be left to the streaming responder")
		}
		o := owed(true, "labelled, reply never stored")
		if o.Ref != ref || o.Text != "오늘 좀 우울해요" || o.Result.Label != emotion.Sadness ||
			o.Result.Scores[emotion.Sadness] != 0.7 || !o.LabelledAt.Equal(clock) || o.Mood != out.Mood {
			t.Fatalf("owed %+v, want ref %d, the text, its label and mood %+v", o, ref, out.Mood)
		}
		if _, err := m.Reply(ctx, sid, ref, "bot", "", "그랬군요.", ""); err != nil {
			t.Fatal(err)
		}
		owed(false, "answered")
		// A second bot reply to the same message (the node that owed it,
		// late) stores nothing; an operator may still write.
		if _, err := m.Reply(ctx, sid, ref, "bot", "", "늦은 답장", ""); !errors.Is(err, session.ErrReplied) {
			t.Fatalf("second bot reply: %v, want ErrReplied", err)
		}

		// An inline reply is stored with the label: nothing is owed.
		say("m2", "그냥 그래요", labelled(emotion.Neutral, 0.8), session.Builtin{})
		owed(false, "inline reply")

		// A crisis escalates with its label: nothing is owed, and while
		// the session waits for an operator the bot's waiting reply is
		// inline too.
		say("m3", "죽고 싶어요", emotion.Result{Label: emotion.Sadness, Scores: emotion.Scores{0, 1, 0, 0}, Crisis: true, CrisisRule: "want_to_die"}, nil)
		owed(false, "crisis escalation")
		say("m4", "아무도 없어요", labelled(emotion.Sadness, 0.9), nil)
		owed(false, "waiting for an operator")

		// Claimed: the bot is silent, nothing is owed, during the claim or
		// after the hand-back.
		if _, err := m.Claim(ctx, sid, "kim"); err != nil {
			t.Fatal(err)
		}
		say("m5", "네 들어주셔서 고마워요", labelled(emotion.Joy, 0.8), nil)
		owed(false, "claimed")
		if _, err := m.Resolve(ctx, sid, "kim"); err != nil {
			t.Fatal(err)
		}
		owed(false, "handed back")

		// Two messages in flight: only the last one's reply is owed.
		raw6, st6, _, _ := m.Accept(ctx, sid, "m6", "하나")
		raw7, _, _, _ := m.Accept(ctx, sid, "m7", "둘")
		out6, err := m.Label(ctx, st6, raw6.Seq, "하나", labelled(emotion.Neutral, 0.9), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Label(ctx, out6.State, raw7.Seq, "둘", labelled(emotion.Neutral, 0.9), nil); err != nil {
			t.Fatal(err)
		}
		if o := owed(true, "two in flight"); o.Ref != raw7.Seq || o.Text != "둘" {
			t.Fatalf("owed ref %d %q, want %d 둘", o.Ref, o.Text, raw7.Seq)
		}
		raws, err := m.Store.Events(ctx, sid, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(raws); fmt.Sprint(types(t, raws[n-4:])) != fmt.Sprintf("[%d:ack %d:ack %d:emotion %d:emotion]", n-3, n-2, n-1, n) {
			t.Fatalf("stored %v", types(t, raws[n-4:]))
		}
	})
}
