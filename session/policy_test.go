package session

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moodgate/moodgate/emotion"
)

func TestPolicyRules(t *testing.T) {
	p := DefaultPolicy()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	sad := result(emotion.Sadness, 0.8)
	run := func(st State, labels ...emotion.Result) Mood {
		var s MoodState
		for _, r := range labels {
			s = p.MoodModel.Update(s, r, t0)
		}
		return s.Mood
	}
	weak := emotion.Result{Label: emotion.Sadness, Scores: emotion.Scores{0.28, 0.30, 0.27, 0.15}}
	crisis := sad
	crisis.Crisis, crisis.CrisisRule = true, "ideation"
	bot := State{Status: StatusBot}
	cases := []struct {
		name string
		st   State
		mood Mood
		r    emotion.Result
		text string
		want Route
	}{
		{"neutral gets a reply", bot, run(bot, result(emotion.Neutral, 0.9)), result(emotion.Neutral, 0.9), "안녕하세요", Route{Reply: true}},
		{"crisis escalates at once", bot, run(bot, crisis), crisis, "죽고 싶어", Route{Escalate: ReasonCrisis, Reply: true}},
		{"two sad messages do not", bot, run(bot, sad, sad), sad, "슬퍼", Route{Reply: true}},
		{"three sad messages escalate", bot, run(bot, sad, sad, sad), sad, "슬퍼", Route{Escalate: ReasonMood, Reply: true}},
		{"sad and angry mixed escalate", bot, run(bot, sad, result(emotion.Anger, 0.8), sad), sad, "슬퍼", Route{Escalate: ReasonMood, Reply: true}},
		{"weak sadness below threshold", bot, run(bot, weak, weak, weak), weak, "음", Route{Reply: true}},
		{"asking for a person", bot, run(bot, result(emotion.Neutral, 0.9)), result(emotion.Neutral, 0.9), "상담사 연결해 주세요", Route{Escalate: ReasonRequest, Reply: true}},
		{"asking without spaces", bot, run(bot, result(emotion.Neutral, 0.9)), result(emotion.Neutral, 0.9), "사람이랑얘기하고싶어요", Route{Escalate: ReasonRequest, Reply: true}},
		{"mood cooldown", State{Status: StatusBot, EscalatedAt: t0.Add(-time.Minute)}, run(bot, sad, sad, sad), sad, "슬퍼", Route{Reply: true}},
		{"mood after cooldown", State{Status: StatusBot, EscalatedAt: t0.Add(-time.Hour)}, run(bot, sad, sad, sad), sad, "슬퍼", Route{Escalate: ReasonMood, Reply: true}},
		{"crisis ignores cooldown", State{Status: StatusBot, EscalatedAt: t0.Add(-time.Minute)}, run(bot, crisis), crisis, "죽고 싶어", Route{Escalate: ReasonCrisis, Reply: true}},
		{"escalated is not re-escalated", State{Status: StatusEscalated}, run(bot, crisis), crisis, "죽고 싶어", Route{Reply: true}},
		{"claimed: bot silent", State{Status: StatusClaimed, Operator: "kim"}, run(bot, sad, sad, sad), sad, "상담사", Route{Reply: false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := p.Decide(c.st, c.mood, c.r, c.text, t0); got != c.want {
				t.Fatalf("got %+v want %+v", got, c.want)
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	base := string(defaultPolicyYAML)
	cases := map[string]string{
		"unknown key":        base + "\nextra: 1\n",
		"not yaml":           "mood: [",
		"bad label":          strings.Replace(base, "labels: [sadness, anger]", "labels: [gloom]", 1),
		"threshold range":    strings.Replace(base, "threshold: 0.5", "threshold: 1.5", 1),
		"zero messages":      strings.Replace(base, "messages: 3", "messages: 0", 1),
		"bad duration":       strings.Replace(base, "cooldown: 10m", "cooldown: soon", 1),
		"no half-life":       strings.Replace(base, "half_life_messages: 4", "half_life_messages: 0", 1),
		"empty phrase":       strings.Replace(base, "- 상담원", "- ' '", 1),
		"empty document":     "",
		"negative cool-down": strings.Replace(base, "cooldown: 1m", "cooldown: -1m", 1),
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParsePolicy([]byte(doc)); !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("err = %v, want ErrInvalidPolicy", err)
			}
		})
	}
	if _, err := LoadPolicy("/nonexistent/policy.yaml"); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := ParsePolicy(defaultPolicyYAML); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}
