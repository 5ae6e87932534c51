package session

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/moodgate/moodgate/emotion"
)

// randText mixes what makes JSON string escaping differ: quotes,
// backslashes, control characters, HTML characters, U+2028, Korean,
// invalid UTF-8.
func randText(rng *rand.Rand) string {
	parts := []string{"", "안녕하세요", `"`, `\`, "<b>", "&", "\n", "\t", "\r", "\b", "\f", "\x00", "\x1f", "\x7f",
		"\u2028", "\u2029", "\xff", "\xe2\x82", "plain text", "😀", "}", "},\"seq\":"}
	var sb strings.Builder
	for n := rng.IntN(6); n > 0; n-- {
		sb.WriteString(parts[rng.IntN(len(parts))])
	}
	return sb.String()
}

func randFloat(rng *rand.Rand) float64 {
	switch rng.IntN(6) {
	case 0:
		return 0
	case 1:
		return rng.Float64() * 1e-8
	case 2:
		return -rng.Float64()
	case 3:
		return rng.Float64() * 1e22
	default:
		return rng.Float64()
	}
}

func randScores(rng *rand.Rand) emotion.Scores {
	var s emotion.Scores
	for i := range s {
		s[i] = randFloat(rng)
	}
	return s
}

func randEvent(rng *rand.Rand) *Event {
	e := &Event{Type: []string{TypeAck, TypeEmotion, TypeReply, TypeEscalation, TypeOperator, randText(rng)}[rng.IntN(6)],
		TS: rng.Int64N(2e12), Ref: rng.Int64N(3), ID: randText(rng), Text: randText(rng), From: randText(rng),
		Operator: randText(rng), Notice: randText(rng), Action: randText(rng), Message: randText(rng)}
	if rng.IntN(2) == 0 {
		mood := Mood{Avg: randScores(rng), Valence: randFloat(rng), Label: emotion.Label(rng.IntN(4)),
			Streak: rng.IntN(9), StreakLabel: emotion.Label(rng.IntN(4)), NegativeStreak: rng.IntN(9), Messages: rng.IntN(999)}
		r := emotion.Result{Label: emotion.Label(rng.IntN(4)), Scores: randScores(rng), Source: emotion.Source(randText(rng)),
			Crisis: rng.IntN(2) == 0, CrisisRule: randText(rng)}
		e.EmotionData = NewEmotionData(r, mood)
		if rng.IntN(3) == 0 {
			e.Mood = nil
		}
	}
	if rng.IntN(2) == 0 {
		e.EscalationData = &EscalationData{Reason: randText(rng), Severity: rng.IntN(4)}
		for n := rng.IntN(3); n > 0; n-- {
			e.Resources = append(e.Resources, Resource{Name: randText(rng), Contact: randText(rng)})
		}
	}
	return e
}

// TestEncodersMatchEncodingJSON: the hand-written encoders write exactly
// what json.Marshal writes.
func TestEncodersMatchEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 20000; i++ {
		e := randEvent(rng)
		e.Seq = rng.Int64N(1000)
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendEvent(nil, e)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("event %v\n got %s\nwant %s", err, got, want)
		}
		head, tail, err := encodeSplit(e)
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = 0
		want, _ = json.Marshal(e)
		if s := head + "0" + tail; s != string(want) {
			t.Fatalf("split\n got %s\nwant %s", s, want)
		}

		p := &Point{TS: rng.Int64N(2e12), Seq: rng.Int64N(99), Label: randText(rng), Scores: randScores(rng).Map(), Valence: randFloat(rng)}
		want, _ = json.Marshal(p)
		if got, err := appendPoint(nil, p); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("point %v\n got %s\nwant %s", err, got, want)
		}

		ms := &MoodState{Sum: randScores(rng), Weight: randFloat(rng), At: time.UnixMilli(rng.Int64N(2e12)),
			Mood: Mood{Avg: randScores(rng), Valence: randFloat(rng), Label: emotion.Label(rng.IntN(4)), StreakLabel: emotion.Label(rng.IntN(4)), Messages: rng.IntN(99)}}
		want, _ = json.Marshal(moodJSON{Sum: ms.Sum, Weight: ms.Weight, At: ms.At.UnixMilli(), Mood: ms.Mood})
		if got, err := appendMoodState(nil, ms); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("mood %v\n got %s\nwant %s", err, got, want)
		}
	}
}

// TestEncodersRefuseWhatJSONRefuses: values JSON cannot hold fail as they
// do in encoding/json.
func TestEncodersRefuseWhatJSONRefuses(t *testing.T) {
	bad := []*Event{
		{Type: TypeEmotion, EmotionData: &EmotionData{Valence: math.NaN()}},
		{Type: TypeEmotion, EmotionData: &EmotionData{Scores: map[string]float64{"joy": math.Inf(1)}}},
		{Type: TypeEmotion, EmotionData: &EmotionData{Label: 9}},
		{Type: TypeEmotion, EmotionData: &EmotionData{Mood: &Mood{Avg: emotion.Scores{math.NaN()}}}},
		{Type: TypeEmotion, EmotionData: &EmotionData{Mood: &Mood{StreakLabel: -1}}},
	}
	for i, e := range bad {
		if _, err := json.Marshal(e); err == nil {
			t.Fatalf("%d: encoding/json took it", i)
		}
		if _, _, err := encodeSplit(e); err == nil {
			t.Fatalf("%d: encodeSplit took it", i)
		}
	}
}
