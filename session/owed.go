package session

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moodgate/moodgate/emotion"
)

// Owed is a bot reply that was promised and never stored: a user message was
// labelled with its reply left to a streaming responder (Labelled.
// ReplyPending), and nothing was stored after that. Normally the node that
// labelled it stores the reply, or a fallback, within the chat timeout; when
// that node died mid-generation, the reply is owed until another node
// answers it (gateway: on the user's reconnect).
type Owed struct {
	Ref        int64 // the user message
	Text       string
	Result     emotion.Result // its label, as stored
	Mood       Mood           // the mood after it, as stored
	LabelledAt time.Time      // when its emotion event was stored
	Age        time.Duration  // since LabelledAt, on the manager's clock
}

// OwedReply reports the reply the bot owes in session st. One is owed when
// the bot holds the session (status bot) and the session's last event is the
// emotion event of a user message that is not a crisis: no reply,
// escalation or operator action came after it. An escalation, an inline
// reply and the bot's silence while an operator holds the session all leave
// another event after the label or a status other than bot, so only a
// streamed reply that was never stored looks like this. Two reads, at most.
//
// A generation may still be running on another node: the caller waits until
// LabelledAt plus that node's chat timeout before it answers, and stores its
// answer with Reply, which refuses a second bot reply to the same message
// (ErrReplied).
func (m *Manager) OwedReply(ctx context.Context, st State) (Owed, bool, error) {
	if st.Status != StatusBot || st.Erased || st.Seq < 2 {
		return Owed{}, false, nil
	}
	last, err := m.event(ctx, st.ID, st.Seq)
	if err != nil || last.Type != TypeEmotion || last.EmotionData == nil || last.Crisis || last.Ref < 1 {
		return Owed{}, false, err
	}
	msg, err := m.event(ctx, st.ID, last.Ref)
	if err != nil || msg.Type != TypeAck || msg.Text == "" {
		return Owed{}, false, err
	}
	at := time.UnixMilli(last.TS)
	o := Owed{Ref: last.Ref, Text: msg.Text, LabelledAt: at, Age: m.now().Sub(at),
		Result: emotion.Result{Label: last.Label, Source: last.Source, Crisis: last.Crisis, CrisisRule: last.CrisisRule}}
	for name, p := range last.Scores {
		if l, err := emotion.ParseLabel(name); err == nil {
			o.Result.Scores[l] = p
		}
	}
	if last.Mood != nil {
		o.Mood = *last.Mood
	}
	return o, true, nil
}

// event reads the event with the given seq.
func (m *Manager) event(ctx context.Context, sid string, seq int64) (Event, error) {
	raws, err := m.Store.Events(ctx, sid, seq-1, 1)
	if err != nil {
		return Event{}, err
	}
	if len(raws) != 1 || raws[0].Seq != seq {
		return Event{}, fmt.Errorf("session %s: event %d not found", sid, seq)
	}
	var e Event
	if err := json.Unmarshal(raws[0].JSON, &e); err != nil {
		return Event{}, fmt.Errorf("session %s: event %d: %w", sid, seq, err)
	}
	return e, nil
}
