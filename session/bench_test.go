package session_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/session"
	"github.com/moodgate/moodgate/session/sessiontest"
)

// BenchmarkMessagePath is the per-message Redis path on a real
// redis-server: store the message (round trip 1), then the label, mood,
// route and built-in reply (round trip 2).
func BenchmarkMessagePath(b *testing.B) {
	rdb := sessiontest.RealRedis(b, "--appendonly", "no").Client(b)
	m := newManager(rdb, sessiontest.Prefix(b), nil)
	ctx := context.Background()
	r := labelled(emotion.Joy, 0.8)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sid := fmt.Sprintf("bench-session-%08d", i%1000)
		raw, st, _, err := m.Accept(ctx, sid, fmt.Sprint("m", i), "오늘 날씨가 좋아서 기분이 좋아요")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Label(ctx, st, raw.Seq, "오늘 날씨가 좋아서 기분이 좋아요", r, session.Builtin{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMoodUpdate is the mood maths of one message.
func BenchmarkMoodUpdate(b *testing.B) {
	p := session.DefaultPolicy()
	r := labelled(emotion.Sadness, 0.7)
	var s session.MoodState
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s = p.MoodModel.Update(s, r, s.At)
	}
}
