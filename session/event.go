package session

import (
	"github.com/moodgate/moodgate/emotion"
)

// Event types stored in a session and sent to clients (docs/protocol.md).
const (
	TypeAck        = "ack"
	TypeEmotion    = "emotion"
	TypeReply      = "reply"
	TypeEscalation = "escalation"
	TypeOperator   = "operator"
)

// Escalation reasons and their severities (higher is more urgent).
const (
	ReasonCrisis  = "crisis"
	ReasonRequest = "request"
	ReasonMood    = "mood"
)

// Severity orders escalations: crisis first.
func Severity(reason string) int {
	switch reason {
	case ReasonCrisis:
		return 3
	case ReasonRequest:
		return 2
	case ReasonMood:
		return 1
	}
	return 0
}

// Event is one stored event of a session. Type and Seq come first in its
// JSON, which the append script relies on to place the seq.
type Event struct {
	Type     string `json:"type"`
	Seq      int64  `json:"seq"`
	TS       int64  `json:"ts"`
	Ref      int64  `json:"ref,omitempty"`
	ID       string `json:"id,omitempty"`
	Text     string `json:"text,omitempty"`
	From     string `json:"from,omitempty"`
	Operator string `json:"operator,omitempty"`
	Notice   string `json:"notice,omitempty"`
	Action   string `json:"action,omitempty"`
	Message  string `json:"message,omitempty"`
	*EmotionData
	*EscalationData
}

// EmotionData are the fields of an emotion event.
type EmotionData struct {
	Label      emotion.Label      `json:"label"`
	LabelKo    string             `json:"label_ko"`
	Scores     map[string]float64 `json:"scores"`
	Source     emotion.Source     `json:"source"`
	Crisis     bool               `json:"crisis"`
	CrisisRule string             `json:"crisis_rule,omitempty"`
	Valence    float64            `json:"valence"`
	Mood       *Mood              `json:"mood,omitempty"`
}

// EscalationData are the fields of an escalation event.
type EscalationData struct {
	Reason    string     `json:"reason"`
	Severity  int        `json:"severity"`
	Resources []Resource `json:"resources,omitempty"`
}

// Resource is one crisis line shown to the user.
type Resource struct {
	Name    string `json:"name"`
	Contact string `json:"contact"`
}

// NewEmotionData turns a classifier result into the wire fields.
func NewEmotionData(r emotion.Result, mood Mood) *EmotionData {
	return &EmotionData{
		Label: r.Label, LabelKo: r.Label.Korean(), Scores: r.Scores.Map(),
		Source: r.Source, Crisis: r.Crisis, CrisisRule: r.CrisisRule,
		Valence: mood.Valence, Mood: &mood,
	}
}

// encodeSplit encodes e and returns the JSON before and after its seq
// value, so that the append script can put the real seq in place without
// decoding the event.
func encodeSplit(e *Event) (head, tail string, err error) {
	b := make([]byte, 0, 512)
	b = append(b, `{"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"seq":`...)
	n := len(b)
	if b, err = appendEventTail(b, e); err != nil {
		return "", "", err
	}
	s := string(b)
	return s[:n], s[n:], nil
}
