package emotion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Label is one of the four classes of the seed model, in the seed's id order.
type Label int

// The four classes. The numeric values are the seed model's ids and the digits
// the Ollama-served model answers with; never reorder them.
const (
	Neutral Label = iota // 무감정
	Sadness              // 슬픔
	Joy                  // 기쁨
	Anger                // 분노
)

// NumLabels is the number of classes.
const NumLabels = 4

// Labels lists every class in id order.
var Labels = [NumLabels]Label{Neutral, Sadness, Joy, Anger}

var (
	englishNames = [NumLabels]string{"neutral", "sadness", "joy", "anger"}
	koreanNames  = [NumLabels]string{"무감정", "슬픔", "기쁨", "분노"}
)

// String returns the English name used on the wire ("neutral", …).
func (l Label) String() string {
	if l < 0 || int(l) >= NumLabels {
		return fmt.Sprintf("label(%d)", int(l))
	}
	return englishNames[l]
}

// Korean returns the Korean name ("무감정", …).
func (l Label) Korean() string {
	if l < 0 || int(l) >= NumLabels {
		return ""
	}
	return koreanNames[l]
}

// Valid reports whether l is one of the four classes.
func (l Label) Valid() bool { return l >= 0 && int(l) < NumLabels }

// ErrUnknownLabel is returned by ParseLabel for a name that is none of the
// four classes in English, Korean or as an id digit.
var ErrUnknownLabel = errors.New("emotion: unknown label")

// ParseLabel accepts an English name, a Korean name or an id digit ("0"-"3").
func ParseLabel(s string) (Label, error) {
	s = strings.TrimSpace(s)
	for i := 0; i < NumLabels; i++ {
		if strings.EqualFold(s, englishNames[i]) || s == koreanNames[i] || s == fmt.Sprint(i) {
			return Label(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownLabel, s)
}

// MarshalText encodes a label as its English name.
func (l Label) MarshalText() ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrUnknownLabel, int(l))
	}
	return []byte(englishNames[l]), nil
}

// UnmarshalText decodes any form ParseLabel accepts.
func (l *Label) UnmarshalText(b []byte) error {
	v, err := ParseLabel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Scores holds one probability per class, indexed by Label; they sum to 1.
type Scores [NumLabels]float64

// Argmax returns the class with the highest probability (the lowest id on ties).
func (s Scores) Argmax() Label {
	best := Neutral
	for i := 1; i < NumLabels; i++ {
		if s[i] > s[best] {
			best = Label(i)
		}
	}
	return best
}

// Map returns the scores keyed by English label name, the wire form.
func (s Scores) Map() map[string]float64 {
	m := make(map[string]float64, NumLabels)
	for i, p := range s {
		m[englishNames[i]] = p
	}
	return m
}

// Source names what produced a label: "embedded" or "ollama".
type Source string

// The sources a Result can come from.
const (
	SourceEmbedded Source = "embedded"
	SourceOllama   Source = "ollama"
)

// Result is one labelled message.
type Result struct {
	Label  Label
	Scores Scores
	// Source is what actually produced Label: after a fallback it is the
	// fallback's source, never the one that was tried first.
	Source Source
	// Crisis is set by the crisis screen, independent of Label.
	Crisis bool
	// CrisisRule names the crisis rule that matched, for operators.
	CrisisRule string
}

// Classifier labels one text. Implementations are safe for concurrent use.
type Classifier interface {
	Classify(ctx context.Context, text string) (Result, error)
}

// MarshalJSON encodes scores as an object keyed by English label name, the
// wire form: {"neutral":p,"sadness":p,"joy":p,"anger":p}.
func (s Scores) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 96)
	b = append(b, '{')
	for i, p := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, englishNames[i]...)
		b = append(b, '"', ':')
		b = strconv.AppendFloat(b, p, 'g', -1, 64)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON decodes the object form written by MarshalJSON; a missing
// label is 0, an unknown one an error.
func (s *Scores) UnmarshalJSON(b []byte) error {
	var m map[string]float64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*s = Scores{}
	for k, p := range m {
		l, err := ParseLabel(k)
		if err != nil {
			return err
		}
		s[l] = p
	}
	return nil
}
