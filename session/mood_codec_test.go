package session

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/moodgate/moodgate/emotion"
)

// TestDecodeMoodMatchesJSON: the scanner reads what json.Marshal wrote
// exactly as encoding/json does, and hands anything else to encoding/json.
func TestDecodeMoodMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := DefaultPolicy()
	var s MoodState
	at := int64(1764000000000)
	for i := 0; i < 2000; i++ {
		var sc emotion.Scores
		for k := range sc {
			sc[k] = rng.Float64()
		}
		if i%7 == 0 {
			sc[rng.IntN(4)] = 1e-9 // exponent form
		}
		r := emotion.Result{Label: emotion.Label(rng.IntN(4)), Scores: sc}
		at += rng.Int64N(1e8)
		s = p.MoodModel.Update(s, r, time.UnixMilli(at))
		b, err := json.Marshal(moodJSON{Sum: s.Sum, Weight: s.Weight, At: s.At.UnixMilli(), Mood: s.Mood})
		if err != nil {
			t.Fatal(err)
		}
		var want moodJSON
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		got, ok := scanMood(string(b))
		if !ok {
			t.Fatalf("scanner refused %s", b)
		}
		if got != want {
			t.Fatalf("scanner read %+v, encoding/json %+v from %s", got, want, b)
		}
	}
	for _, in := range []string{
		`{"sum":[1,0,0,0],"w":1,"at":5,"mood":{"valence":0.5,"avg":{"joy":1},"label":"joy","streak":1,"streak_label":"joy","negative_streak":0,"messages":1}}`,
		`{"sum":[1,0,0,0], "w":1}`,
	} {
		if _, ok := scanMood(in); ok {
			t.Fatalf("scanner took %s", in)
		}
		m, err := decodeMood(in)
		var want moodJSON
		werr := json.Unmarshal([]byte(in), &want)
		if (err == nil) != (werr == nil) || m != want {
			t.Fatalf("fallback: %+v %v, want %+v %v", m, err, want, werr)
		}
	}
	if _, err := decodeMood(`{"sum":[NaN]}`); err == nil {
		t.Fatal("decoded invalid JSON")
	}
}
