package session

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/moodgate/moodgate/emotion"
)

// decodeMood reads the mood field of the meta hash. It runs on every user
// message, so the form this package writes (json.Marshal of moodJSON: its
// fields in order, numbers, English label names) is read by a scanner that
// expects exactly that; anything else goes through encoding/json.
func decodeMood(s string) (moodJSON, error) {
	if m, ok := scanMood(s); ok {
		return m, nil
	}
	var m moodJSON
	err := json.Unmarshal([]byte(s), &m)
	return m, err
}

func scanMood(s string) (m moodJSON, ok bool) {
	p := moodScanner{s: s, ok: true}
	p.lit(`{"sum":[`)
	for i := range m.Sum {
		if i > 0 {
			p.lit(`,`)
		}
		m.Sum[i] = p.float()
	}
	p.lit(`],"w":`)
	m.Weight = p.float()
	p.lit(`,"at":`)
	m.At = p.int()
	p.lit(`,"mood":{"avg":{"neutral":`)
	m.Mood.Avg[emotion.Neutral] = p.float()
	p.lit(`,"sadness":`)
	m.Mood.Avg[emotion.Sadness] = p.float()
	p.lit(`,"joy":`)
	m.Mood.Avg[emotion.Joy] = p.float()
	p.lit(`,"anger":`)
	m.Mood.Avg[emotion.Anger] = p.float()
	p.lit(`},"valence":`)
	m.Mood.Valence = p.float()
	p.lit(`,"label":`)
	m.Mood.Label = p.label()
	p.lit(`,"streak":`)
	m.Mood.Streak = int(p.int())
	p.lit(`,"streak_label":`)
	m.Mood.StreakLabel = p.label()
	p.lit(`,"negative_streak":`)
	m.Mood.NegativeStreak = int(p.int())
	p.lit(`,"messages":`)
	m.Mood.Messages = int(p.int())
	p.lit(`}}`)
	return m, p.ok && p.s == ""
}

type moodScanner struct {
	s  string
	ok bool
}

func (p *moodScanner) lit(l string) {
	if p.ok && strings.HasPrefix(p.s, l) {
		p.s = p.s[len(l):]
	} else {
		p.ok = false
	}
}

// token takes the text up to the next delimiter.
func (p *moodScanner) token() string {
	i := strings.IndexAny(p.s, ",]}")
	if !p.ok || i <= 0 {
		p.ok = false
		return ""
	}
	t := p.s[:i]
	p.s = p.s[i:]
	return t
}

func (p *moodScanner) float() float64 {
	v, err := strconv.ParseFloat(p.token(), 64)
	p.ok = p.ok && err == nil
	return v
}

func (p *moodScanner) int() int64 {
	v, err := strconv.ParseInt(p.token(), 10, 64)
	p.ok = p.ok && err == nil
	return v
}

func (p *moodScanner) label() emotion.Label {
	p.lit(`"`)
	i := strings.IndexByte(p.s, '"')
	if !p.ok || i < 0 {
		p.ok = false
		return 0
	}
	name := p.s[:i]
	p.s = p.s[i+1:]
	for l := emotion.Label(0); l.Valid(); l++ {
		if name == l.String() {
			return l
		}
	}
	p.ok = false
	return 0
}
