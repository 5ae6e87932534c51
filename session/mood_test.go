package session

import (
	"math"
	"testing"
	"time"

	"github.com/moodgate/moodgate/emotion"
)

func result(l emotion.Label, p float64) emotion.Result {
	var s emotion.Scores
	for i := range s {
		s[i] = (1 - p) / 3
	}
	s[l] = p
	return emotion.Result{Label: l, Scores: s}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestMoodUpdate(t *testing.T) {
	m := MoodModel{HalfLifeMessages: 1, HalfLifeTime: time.Hour}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

	t.Run("first message is the average", func(t *testing.T) {
		s := m.Update(MoodState{}, result(emotion.Sadness, 0.7), t0)
		if !near(s.Mood.Avg[emotion.Sadness], 0.7) || !near(s.Weight, 1) {
			t.Fatalf("avg %v weight %v", s.Mood.Avg, s.Weight)
		}
		if !near(s.Mood.Valence, 0.1-0.7-0.1) {
			t.Fatalf("valence %v", s.Mood.Valence)
		}
	})
	t.Run("half-life in messages", func(t *testing.T) {
		// Two messages at the same instant with half-life 1: the older one
		// weighs 1/2, so avg = (0.5·a + b)/1.5.
		s := m.Update(MoodState{}, result(emotion.Joy, 1), t0)
		s = m.Update(s, result(emotion.Anger, 1), t0)
		if !near(s.Mood.Avg[emotion.Joy], 0.5/1.5) || !near(s.Mood.Avg[emotion.Anger], 1/1.5) {
			t.Fatalf("avg %v", s.Mood.Avg)
		}
	})
	t.Run("wall-clock decay", func(t *testing.T) {
		// A joy message three hours before a sad one weighs ½·⅛ = 1/16.
		s := m.Update(MoodState{}, result(emotion.Joy, 1), t0)
		s = m.Update(s, result(emotion.Sadness, 1), t0.Add(3*time.Hour))
		w := 1.0 / 16
		if !near(s.Mood.Avg[emotion.Joy], w/(1+w)) {
			t.Fatalf("joy %v want %v", s.Mood.Avg[emotion.Joy], w/(1+w))
		}
		recent := m.Update(m.Update(MoodState{}, result(emotion.Joy, 1), t0), result(emotion.Sadness, 1), t0.Add(time.Minute))
		if recent.Mood.Avg[emotion.Joy] <= s.Mood.Avg[emotion.Joy] {
			t.Fatalf("an old message must weigh less than a recent one")
		}
	})
	t.Run("streaks", func(t *testing.T) {
		var s MoodState
		for i, l := range []emotion.Label{emotion.Sadness, emotion.Sadness, emotion.Anger, emotion.Joy, emotion.Joy} {
			s = m.Update(s, result(l, 0.9), t0.Add(time.Duration(i)*time.Second))
		}
		if s.Mood.Streak != 2 || s.Mood.StreakLabel != emotion.Joy || s.Mood.NegativeStreak != 0 || s.Mood.Messages != 5 {
			t.Fatalf("mood %+v", s.Mood)
		}
		s = m.Update(m.Update(s, result(emotion.Anger, 0.9), t0), result(emotion.Sadness, 0.9), t0)
		if s.Mood.NegativeStreak != 2 || s.Mood.Streak != 1 {
			t.Fatalf("mood %+v", s.Mood)
		}
	})
	t.Run("valence bounds", func(t *testing.T) {
		for _, l := range emotion.Labels {
			s := m.Update(MoodState{}, result(l, 1), t0)
			if s.Mood.Valence < -1 || s.Mood.Valence > 1 {
				t.Fatalf("%v: valence %v", l, s.Mood.Valence)
			}
		}
		if v := m.Update(MoodState{}, result(emotion.Joy, 1), t0).Mood.Valence; !near(v, 1) {
			t.Fatalf("pure joy valence %v", v)
		}
	})
}

func TestBuiltinDoesNotRepeat(t *testing.T) {
	m := MoodModel{HalfLifeMessages: 4, HalfLifeTime: time.Hour}
	var s MoodState
	prev := ""
	for i := 0; i < 8; i++ {
		r := result(emotion.Sadness, 0.9)
		s = m.Update(s, r, time.Unix(int64(i), 0))
		text, err := Builtin{}.Reply(t.Context(), ReplyRequest{SessionID: "s1", Text: "슬퍼요", Result: r, Mood: s.Mood}, nil)
		if err != nil || text == "" {
			t.Fatal(err)
		}
		if text == prev {
			t.Fatalf("message %d repeats the previous reply %q", i, text)
		}
		prev = text
	}
}
