package session

import (
	"math"
	"time"

	"github.com/moodgate/moodgate/emotion"
)

// MoodModel holds the parameters of the mood maths.
type MoodModel struct {
	// HalfLifeMessages: after this many newer messages a message weighs half.
	HalfLifeMessages float64 `yaml:"half_life_messages"`
	// HalfLifeTime: after this much wall-clock time the whole history weighs
	// half, so a sad message from three days ago weighs less than one from a
	// minute ago.
	HalfLifeTime time.Duration `yaml:"half_life_time"`
	// TimelineCap is how many points of the mood timeline are kept.
	TimelineCap int `yaml:"timeline_cap"`
}

// MoodState is the stored state of the mood model: the weighted sums behind
// Mood.Avg, so that the average is exact (bias-corrected) from the first
// message on.
type MoodState struct {
	Sum    emotion.Scores // Σ wᵢ·pᵢ
	Weight float64        // Σ wᵢ
	At     time.Time      // time of the last update
	Mood   Mood
}

// Update folds one labelled message at time now into the state and returns
// the new state. It is pure.
//
// With d = 2^(−1/HalfLifeMessages) · 2^(−Δt/HalfLifeTime), where Δt is the
// time since the previous message:
//
//	Sum' = d·Sum + p,  Weight' = d·Weight + 1,  Avg = Sum'/Weight'
//
// Valence = Avg[joy] − Avg[sadness] − Avg[anger], in [−1, 1] because the
// probabilities sum to 1 (neutral counts as 0).
func (m MoodModel) Update(s MoodState, r emotion.Result, now time.Time) MoodState {
	d := 1.0
	if s.Weight > 0 {
		if m.HalfLifeMessages > 0 {
			d *= math.Exp2(-1 / m.HalfLifeMessages)
		}
		if dt := now.Sub(s.At); m.HalfLifeTime > 0 && dt > 0 {
			d *= math.Exp2(-float64(dt) / float64(m.HalfLifeTime))
		}
	}
	out := MoodState{At: now, Weight: d*s.Weight + 1}
	for i := range out.Sum {
		out.Sum[i] = d*s.Sum[i] + r.Scores[i]
		out.Mood.Avg[i] = out.Sum[i] / out.Weight
	}
	a := out.Mood.Avg
	out.Mood.Valence = clamp(a[emotion.Joy]-a[emotion.Sadness]-a[emotion.Anger], -1, 1)
	out.Mood.Label = r.Label
	out.Mood.Messages = s.Mood.Messages + 1
	if s.Mood.Messages > 0 && s.Mood.StreakLabel == r.Label {
		out.Mood.Streak = s.Mood.Streak + 1
	} else {
		out.Mood.Streak = 1
	}
	out.Mood.StreakLabel = r.Label
	if r.Label == emotion.Sadness || r.Label == emotion.Anger {
		out.Mood.NegativeStreak = s.Mood.NegativeStreak + 1
	}
	return out
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
