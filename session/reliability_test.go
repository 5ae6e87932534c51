package session_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/session"
)

// TestReliabLabelOnce shows that a message is labelled once however many
// times its labelling is attempted, in turn or at the same moment (a node
// finishing a message that another node stored and then died with, while
// the first node may still be alive): exactly one emotion event is stored,
// every other attempt gets ErrLabelled and stores nothing.
func TestReliabLabelOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb *redis.Client, prefix string) {
		ctx := context.Background()
		m := newManager(rdb, prefix, time.Now)
		raw, st, dup, err := m.Accept(ctx, sid, "m1", "오늘 슬퍼요")
		if err != nil || dup {
			t.Fatalf("accept: %v dup=%v", err, dup)
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = m.Label(ctx, st, raw.Seq, "오늘 슬퍼요", labelled(emotion.Sadness, 0.9), session.Builtin{})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, session.ErrLabelled):
				t.Fatalf("label: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d attempts labelled the message", ok)
		}
		// A later attempt, from the state a resend reads back.
		_, st2, dup, err := m.Accept(ctx, sid, "m1", "오늘 슬퍼요")
		if err != nil || !dup {
			t.Fatalf("resend: %v dup=%v", err, dup)
		}
		if _, err := m.Label(ctx, st2, raw.Seq, "오늘 슬퍼요", labelled(emotion.Sadness, 0.9), session.Builtin{}); !errors.Is(err, session.ErrLabelled) {
			t.Fatalf("label after resend: %v", err)
		}
		raws, err := m.Store.Events(ctx, sid, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(types(t, raws)); got != "[1:ack 2:emotion 3:reply]" {
			t.Fatalf("stored %v, want ack emotion reply", got)
		}
		// The next message is labelled as usual.
		raw2, st3, _, err := m.Accept(ctx, sid, "m2", "고마워요")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Label(ctx, st3, raw2.Seq, "고마워요", labelled(emotion.Joy, 0.9), session.Builtin{}); err != nil {
			t.Fatalf("next message: %v", err)
		}
	})
}
