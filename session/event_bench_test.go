package session

import (
	"testing"

	"github.com/moodgate/moodgate/emotion"
)

// BenchmarkEncodeEvent is the JSON encoding of an emotion event, split
// around its seq for the append script.
func BenchmarkEncodeEvent(b *testing.B) {
	r := emotion.Result{Label: emotion.Sadness, Scores: emotion.Scores{0.1, 0.6, 0.1, 0.2}, Source: emotion.SourceEmbedded}
	mood := Mood{Avg: r.Scores, Valence: -0.7, Label: emotion.Sadness, Streak: 2, StreakLabel: emotion.Sadness, Messages: 5}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e := &Event{Type: TypeEmotion, TS: 1764000000000, Ref: 41, EmotionData: NewEmotionData(r, mood)}
		if _, _, err := encodeSplit(e); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEncodeSplit(t *testing.T) {
	e := &Event{Type: TypeReply, Ref: 3, Text: `따옴표 " 와 }`, From: "bot"}
	h, tail, err := encodeSplit(e)
	if err != nil {
		t.Fatal(err)
	}
	if got := h + "7" + tail; got != `{"type":"reply","seq":7,"ts":0,"ref":3,"text":"따옴표 \" 와 }","from":"bot"}` {
		t.Fatalf("got %s", got)
	}
}
