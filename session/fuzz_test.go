package session

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/moodgate/moodgate/emotion"
)

// FuzzParsePolicy feeds arbitrary documents to the rules parser. It must
// never panic, and a policy it accepts must be usable: every number in
// range and finite, the mood maths finite and storable as JSON, and no
// request phrase that would match every message.
func FuzzParsePolicy(f *testing.F) {
	f.Add(defaultPolicyYAML)
	f.Add([]byte("mood_model: {half_life_messages: 4, half_life_time: 24h, timeline_cap: 200}\n" +
		"crisis: {escalate: true}\nmood: {labels: [sadness], messages: 2, threshold: 0.7, cooldown: 1m}\n" +
		"request: {phrases: [상담사], cooldown: 1m}\n"))
	f.Add([]byte("mood_model: {half_life_messages: .nan, half_life_time: 1h, timeline_cap: 5}\n" +
		"mood: {labels: [anger], messages: 1, threshold: .nan}\n"))
	f.Add([]byte("mood: {labels: [joy, 7], messages: -1}"))
	f.Add([]byte("{}"))
	f.Add([]byte("- a\n- b"))
	f.Add([]byte("mood_model: &a {half_life_messages: *a}"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := ParsePolicy(doc)
		if err != nil {
			return
		}
		m := p.MoodModel
		finite := func(name string, v float64) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("accepted %s = %v", name, v)
			}
		}
		finite("mood_model.half_life_messages", m.HalfLifeMessages)
		finite("mood.threshold", p.Mood.Threshold)
		if !(m.HalfLifeMessages > 0) || m.HalfLifeTime <= 0 || m.TimelineCap < 1 || m.TimelineCap > 10000 ||
			len(p.Mood.Labels) == 0 || p.Mood.Messages < 1 || !(p.Mood.Threshold >= 0 && p.Mood.Threshold <= 1) ||
			p.Mood.Cooldown < 0 || p.Request.Cooldown < 0 {
			t.Fatalf("accepted an out-of-range policy: %+v", p)
		}
		for _, l := range p.Mood.Labels {
			if !l.Valid() {
				t.Fatalf("accepted label %d", int(l))
			}
		}
		for _, ph := range p.phrases {
			if ph == "" {
				t.Fatal("accepted a request phrase that matches every message")
			}
		}
		// Run a short conversation through the mood model and the router.
		var st State
		now := time.Unix(1_700_000_000, 0)
		for i, l := range []emotion.Label{emotion.Sadness, emotion.Anger, emotion.Joy, emotion.Neutral, emotion.Sadness} {
			var r emotion.Result
			r.Label = l
			for c := range r.Scores {
				r.Scores[c] = 0.1 / 3
			}
			r.Scores[l] = 0.9
			now = now.Add(time.Duration(i) * time.Hour)
			ms := m.Update(st.Mood, r, now)
			for _, v := range append(ms.Sum[:], ms.Weight, ms.Mood.Valence, ms.Mood.Avg[0], ms.Mood.Avg[1], ms.Mood.Avg[2], ms.Mood.Avg[3]) {
				finite("mood", v)
			}
			if _, err := json.Marshal(moodJSON{Sum: ms.Sum, Weight: ms.Weight, Mood: ms.Mood}); err != nil {
				t.Fatalf("mood cannot be stored: %v", err)
			}
			p.Decide(st, ms.Mood, r, "그냥 이야기해요", now)
			st.Mood = ms
		}
	})
}
