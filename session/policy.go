package session

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/moodgate/moodgate/emotion"
)

//go:embed policy.yaml
var defaultPolicyYAML []byte

// ErrInvalidPolicy wraps every reason a rules file is refused at start.
var ErrInvalidPolicy = errors.New("invalid policy")

// Policy routes each labelled message: a bot reply or an escalation.
type Policy struct {
	MoodModel MoodModel `yaml:"mood_model"`
	Crisis    struct {
		Escalate bool `yaml:"escalate"`
	} `yaml:"crisis"`
	Mood struct {
		Labels    []emotion.Label `yaml:"labels"`
		Messages  int             `yaml:"messages"`
		Threshold float64         `yaml:"threshold"`
		Cooldown  time.Duration   `yaml:"cooldown"`
	} `yaml:"mood"`
	Request struct {
		Phrases  []string      `yaml:"phrases"`
		Cooldown time.Duration `yaml:"cooldown"`
	} `yaml:"request"`

	phrases []string // normalised Request.Phrases
}

// DefaultPolicy returns the embedded rules (session/policy.yaml).
func DefaultPolicy() *Policy {
	p, err := ParsePolicy(defaultPolicyYAML)
	if err != nil {
		panic("session: embedded policy.yaml: " + err.Error())
	}
	return p
}

// LoadPolicy reads a rules file; an empty path gives the defaults.
func LoadPolicy(path string) (*Policy, error) {
	if path == "" {
		return DefaultPolicy(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy parses and checks a rules document. Unknown keys, missing
// sections and out-of-range values are errors.
func ParsePolicy(b []byte) (*Policy, error) {
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	for _, ph := range p.Request.Phrases {
		p.phrases = append(p.phrases, normalizeRequest(ph))
	}
	return &p, nil
}

func (p *Policy) check() error {
	m := p.MoodModel
	switch {
	case !(m.HalfLifeMessages > 0) || math.IsInf(m.HalfLifeMessages, 1):
		// Written so that NaN (YAML .nan) is refused too.
		return errors.New("mood_model.half_life_messages must be a positive number")
	case m.HalfLifeTime <= 0:
		return errors.New("mood_model.half_life_time must be a positive duration")
	case m.TimelineCap < 1 || m.TimelineCap > 10000:
		return errors.New("mood_model.timeline_cap must be 1-10000")
	case len(p.Mood.Labels) == 0:
		return errors.New("mood.labels must name at least one label")
	case p.Mood.Messages < 1:
		return errors.New("mood.messages must be at least 1")
	case !(p.Mood.Threshold >= 0 && p.Mood.Threshold <= 1):
		return errors.New("mood.threshold must be within 0-1")
	case p.Mood.Cooldown < 0 || p.Request.Cooldown < 0:
		return errors.New("cooldowns must not be negative")
	}
	for i, ph := range p.Request.Phrases {
		if strings.TrimSpace(ph) == "" {
			return fmt.Errorf("request.phrases[%d] is empty", i)
		}
	}
	return nil
}

// Route is the policy's decision for one message.
type Route struct {
	// Escalate is the reason ("crisis", "mood", "request"), or "" for none.
	Escalate string
	// Reply is false while an operator holds the session: the bot is silent.
	Reply bool
}

// Decide routes one message given the session's state before it (state,
// escalation time) and its mood after it.
func (p *Policy) Decide(st State, mood Mood, r emotion.Result, text string, now time.Time) Route {
	waiting := st.Status == StatusEscalated || st.Status == StatusClaimed
	route := Route{Reply: st.Status != StatusClaimed}
	switch {
	case waiting:
		// Already with (or waiting for) a person: never re-escalate, and a
		// crisis keeps the session escalated until an operator resolves it.
	case r.Crisis && p.Crisis.Escalate:
		route.Escalate = ReasonCrisis
	case p.asksForPerson(text) && p.cooled(st, p.Request.Cooldown, now):
		route.Escalate = ReasonRequest
	case p.sustained(mood) && p.cooled(st, p.Mood.Cooldown, now):
		route.Escalate = ReasonMood
	}
	return route
}

func (p *Policy) cooled(st State, cooldown time.Duration, now time.Time) bool {
	return st.EscalatedAt.IsZero() || now.Sub(st.EscalatedAt) >= cooldown
}

// sustained: the last Mood.Messages messages were all labelled one of the
// configured labels and their average probability is above the threshold.
func (p *Policy) sustained(m Mood) bool {
	var avg float64
	matched := false
	for _, l := range p.Mood.Labels {
		avg += m.Avg[l]
		if m.Label == l {
			matched = true
		}
	}
	streak := m.Streak
	if p.negativeLabels() {
		streak = m.NegativeStreak
	}
	return matched && streak >= p.Mood.Messages && avg >= p.Mood.Threshold
}

// negativeLabels reports whether the labels are exactly sadness and anger,
// whose mixed runs NegativeStreak counts.
func (p *Policy) negativeLabels() bool {
	var sad, angry bool
	for _, l := range p.Mood.Labels {
		switch l {
		case emotion.Sadness:
			sad = true
		case emotion.Anger:
			angry = true
		default:
			return false
		}
	}
	return sad && angry
}

func (p *Policy) asksForPerson(text string) bool {
	t := normalizeRequest(text)
	for _, ph := range p.phrases {
		if strings.Contains(t, ph) {
			return true
		}
	}
	return false
}

// normalizeRequest lower-cases and removes spaces, so "상담사 연결" and
// "상담사연결" match alike.
func normalizeRequest(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), ""))
}
