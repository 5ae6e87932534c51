package session

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/moodgate/moodgate/emotion"
)

// The JSON this package stores on every message (the events, the mood, the
// timeline point) is written by hand rather than through reflection: the
// encoders below write byte for byte what json.Marshal writes for these
// types (same field order, omitempty, float form and string escaping), as
// event_json_test.go checks against encoding/json.

// appendEvent appends e's JSON.
func appendEvent(b []byte, e *Event) ([]byte, error) {
	b = append(b, `{"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	return appendEventTail(b, e)
}

// appendEventTail appends what follows e's seq.
func appendEventTail(b []byte, e *Event) ([]byte, error) {
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, e.TS, 10)
	if e.Ref != 0 {
		b = append(b, `,"ref":`...)
		b = strconv.AppendInt(b, e.Ref, 10)
	}
	b = appendOptString(b, `,"id":`, e.ID)
	b = appendOptString(b, `,"text":`, e.Text)
	b = appendOptString(b, `,"from":`, e.From)
	b = appendOptString(b, `,"operator":`, e.Operator)
	b = appendOptString(b, `,"notice":`, e.Notice)
	b = appendOptString(b, `,"action":`, e.Action)
	b = appendOptString(b, `,"message":`, e.Message)
	if d := e.EmotionData; d != nil {
		var err error
		b = append(b, `,"label":`...)
		if b, err = appendLabel(b, d.Label); err != nil {
			return nil, err
		}
		b = append(b, `,"label_ko":`...)
		b = appendString(b, d.LabelKo)
		b = append(b, `,"scores":`...)
		if b, err = appendFloatMap(b, d.Scores); err != nil {
			return nil, err
		}
		b = append(b, `,"source":`...)
		b = appendString(b, string(d.Source))
		b = append(b, `,"crisis":`...)
		b = strconv.AppendBool(b, d.Crisis)
		b = appendOptString(b, `,"crisis_rule":`, d.CrisisRule)
		b = append(b, `,"valence":`...)
		if b, err = appendFloat(b, d.Valence); err != nil {
			return nil, err
		}
		if d.Mood != nil {
			b = append(b, `,"mood":`...)
			if b, err = appendMood(b, d.Mood); err != nil {
				return nil, err
			}
		}
	}
	if d := e.EscalationData; d != nil {
		b = append(b, `,"reason":`...)
		b = appendString(b, d.Reason)
		b = append(b, `,"severity":`...)
		b = strconv.AppendInt(b, int64(d.Severity), 10)
		if len(d.Resources) > 0 {
			b = append(b, `,"resources":[`...)
			for i, r := range d.Resources {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"name":`...)
				b = appendString(b, r.Name)
				b = append(b, `,"contact":`...)
				b = appendString(b, r.Contact)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
	}
	return append(b, '}'), nil
}

// appendMood appends a Mood.
func appendMood(b []byte, m *Mood) ([]byte, error) {
	var err error
	b = append(b, `{"avg":`...)
	if b, err = appendScores(b, m.Avg); err != nil {
		return nil, err
	}
	b = append(b, `,"valence":`...)
	if b, err = appendFloat(b, m.Valence); err != nil {
		return nil, err
	}
	b = append(b, `,"label":`...)
	if b, err = appendLabel(b, m.Label); err != nil {
		return nil, err
	}
	b = append(b, `,"streak":`...)
	b = strconv.AppendInt(b, int64(m.Streak), 10)
	b = append(b, `,"streak_label":`...)
	if b, err = appendLabel(b, m.StreakLabel); err != nil {
		return nil, err
	}
	b = append(b, `,"negative_streak":`...)
	b = strconv.AppendInt(b, int64(m.NegativeStreak), 10)
	b = append(b, `,"messages":`...)
	b = strconv.AppendInt(b, int64(m.Messages), 10)
	return append(b, '}'), nil
}

// appendMoodState appends the stored form of a mood state (moodJSON).
func appendMoodState(b []byte, s *MoodState) ([]byte, error) {
	var err error
	b = append(b, `{"sum":[`...)
	for i, v := range s.Sum {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendFloat(b, v); err != nil {
			return nil, err
		}
	}
	b = append(b, `],"w":`...)
	if b, err = appendFloat(b, s.Weight); err != nil {
		return nil, err
	}
	b = append(b, `,"at":`...)
	b = strconv.AppendInt(b, s.At.UnixMilli(), 10)
	b = append(b, `,"mood":`...)
	if b, err = appendMood(b, &s.Mood); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendPoint appends a timeline point.
func appendPoint(b []byte, p *Point) ([]byte, error) {
	var err error
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, p.TS, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, p.Seq, 10)
	b = append(b, `,"label":`...)
	b = appendString(b, p.Label)
	b = append(b, `,"scores":`...)
	if b, err = appendFloatMap(b, p.Scores); err != nil {
		return nil, err
	}
	b = append(b, `,"valence":`...)
	if b, err = appendFloat(b, p.Valence); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

func appendLabel(b []byte, l emotion.Label) ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("%w: %d", emotion.ErrUnknownLabel, int(l))
	}
	return appendString(b, l.String()), nil
}

// appendScores writes emotion.Scores as its MarshalJSON does.
func appendScores(b []byte, s emotion.Scores) ([]byte, error) {
	b = append(b, '{')
	for i, p := range s {
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return nil, fmt.Errorf("session: unsupported value %v", p)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, emotion.Label(i).String())
		b = append(b, ':')
		b = strconv.AppendFloat(b, p, 'g', -1, 64)
	}
	return append(b, '}'), nil
}

// appendFloatMap writes a map as encoding/json does: keys sorted.
func appendFloatMap(b []byte, m map[string]float64) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	var arr [8]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendFloat(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendFloat writes a float64 as encoding/json does.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("session: unsupported value %v", f)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string as encoding/json does, with its
// HTML escaping: <, > and & as \u003c, \u003e, \u0026, U+2028 and U+2029
// escaped, invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
