package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/moodgate/moodgate/emotion"
)

// Manager runs the session lifecycle on a Store: accept a message, label it
// and route it, and the operator actions. It is safe for concurrent use.
type Manager struct {
	Store  Store
	Policy *Policy
	// Now is the clock (time.Now when nil); tests set a fake one.
	Now func() time.Time
	// CrisisReply is the text of a crisis escalation event.
	CrisisReply string
	// CrisisResources are listed in crisis escalation events.
	CrisisResources []Resource
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Accept stores a user message: round trip one of the hot path.
func (m *Manager) Accept(ctx context.Context, sid, clientID, text string) (Raw, State, bool, error) {
	return m.Store.AppendMessage(ctx, sid, clientID, text, m.now())
}

// Labelled is the outcome of Label.
type Labelled struct {
	Events []Raw
	State  State // after the append
	Mood   Mood
	Route  Route
	// ReplyPending is true when the caller must still produce the bot reply
	// (a streaming responder) and store it with Reply.
	ReplyPending bool
}

// maxConflictRetries bounds the retries when another node updates the same
// session's mood between our read and our write.
const maxConflictRetries = 50

// Label folds the label of message ref into the mood, routes it, and stores
// the emotion event together with the escalation or, when inline is set (a
// responder that answers at once, like Builtin), the bot reply: round trip
// two of the hot path. st is the state returned by Accept. Each message is
// labelled once: when ref was labelled before (its first attempt finished,
// here or on another node) Label stores nothing and returns ErrLabelled.
func (m *Manager) Label(ctx context.Context, st State, ref int64, text string, r emotion.Result, inline Responder) (Labelled, error) {
	for attempt := 0; ; attempt++ {
		out, err := m.label(ctx, st, ref, text, r, inline)
		if !errors.Is(err, ErrConflict) || attempt >= maxConflictRetries {
			return out, err
		}
		st = out.State
		// Back off a little, more with each attempt, so that racing nodes
		// do not retry in lock step.
		time.Sleep(time.Duration(rand.IntN(attempt+1)+1) * 100 * time.Microsecond)
	}
}

func (m *Manager) label(ctx context.Context, st State, ref int64, text string, r emotion.Result, inline Responder) (Labelled, error) {
	now := m.now()
	ms := m.Policy.MoodModel.Update(st.Mood, r, now)
	route := m.Policy.Decide(st, ms.Mood, r, text, now)
	ed := NewEmotionData(r, ms.Mood)
	events := []*Event{{Type: TypeEmotion, Ref: ref, EmotionData: ed}}
	version := st.MoodVersion
	ch := Change{
		ExpectMoodVersion: &version, Mood: &ms, LabelRef: ref,
		Point: &Point{TS: now.UnixMilli(), Seq: ref, Label: r.Label.String(), Scores: ed.Scores, Valence: ms.Mood.Valence},
	}
	out := Labelled{Mood: ms.Mood, Route: route}
	switch {
	case route.Escalate != "":
		reason := route.Escalate
		events = append(events, m.escalationEvent(ref, reason))
		ch.Status, ch.Reason, ch.EscalatedAt, ch.Queue = StatusEscalated, &reason, now, QueueAdd
	case !route.Reply:
		// An operator holds the session: the bot stays silent.
	case st.Status == StatusEscalated:
		events = append(events, &Event{Type: TypeReply, Ref: ref, From: "bot", Text: WaitingReply})
	case inline != nil:
		text, err := inline.Reply(ctx, ReplyRequest{SessionID: st.ID, Text: text, Result: r, Mood: ms.Mood}, nil)
		if err != nil {
			return out, err
		}
		events = append(events, &Event{Type: TypeReply, Ref: ref, From: "bot", Text: text})
	default:
		out.ReplyPending = true
	}
	raws, nst, err := m.Store.Append(ctx, st.ID, events, ch, now)
	out.Events, out.State = raws, nst
	return out, err
}

func (m *Manager) escalationEvent(ref int64, reason string) *Event {
	e := &Event{Type: TypeEscalation, Ref: ref, EscalationData: &EscalationData{Reason: reason, Severity: Severity(reason)}}
	switch reason {
	case ReasonCrisis:
		e.Message = m.CrisisReply
		e.Resources = m.CrisisResources
	case ReasonRequest:
		e.Message = "상담 선생님을 연결해 드릴게요. 잠시만 기다려 주세요. (A counsellor will join you shortly.)"
	default:
		e.Message = "요즘 마음이 많이 힘드신 것 같아요. 상담 선생님이 함께 이야기 나눌 수 있도록 연결해 드릴게요. " +
			"(You seem to be going through a hard time; a counsellor will join you.)"
	}
	return e
}

// Reply stores a reply to message ref from the bot or an operator. The bot
// answers a message once: a second bot reply to ref stores nothing and
// returns ErrReplied (see OwedReply). An operator may write any number.
func (m *Manager) Reply(ctx context.Context, sid string, ref int64, from, operator, text, notice string) (Raw, error) {
	ev := &Event{Type: TypeReply, Ref: ref, From: from, Operator: operator, Text: text, Notice: notice}
	ch := Change{}
	if from == "operator" {
		ch.Holder = operator
	} else if ref > 0 {
		ch.ReplyRef = ref
	}
	raws, _, err := m.Store.Append(ctx, sid, []*Event{ev}, ch, m.now())
	if err != nil {
		return Raw{}, err
	}
	return raws[0], nil
}

// Claim lets operator take over the session: the bot goes silent and the
// user's messages go to the operator. ErrHeld if another operator holds it.
func (m *Manager) Claim(ctx context.Context, sid, operator string) (State, error) {
	st, err := m.existing(ctx, sid)
	if err != nil {
		return st, err
	}
	if st.Status == StatusClaimed && st.Operator == operator {
		return st, nil
	}
	ev := &Event{Type: TypeOperator, Action: "claimed", Operator: operator,
		Message: "상담 선생님이 대화에 들어왔어요. (A counsellor has joined.)"}
	_, nst, err := m.Store.Append(ctx, sid, []*Event{ev}, Change{Holder: operator, Status: StatusClaimed, Operator: &operator}, m.now())
	return nst, err
}

// Resolve hands the session back to the bot and closes its escalation.
func (m *Manager) Resolve(ctx context.Context, sid, operator string) (State, error) {
	st, err := m.existing(ctx, sid)
	if err != nil {
		return st, err
	}
	if st.Status == StatusBot {
		return st, nil
	}
	empty := ""
	ev := &Event{Type: TypeOperator, Action: "resolved", Operator: operator,
		Message: "상담 선생님과의 대화가 끝났어요. 이제 다시 챗봇이 함께해요. (The counsellor has left; the bot is back.)"}
	_, nst, err := m.Store.Append(ctx, sid, []*Event{ev},
		Change{Holder: operator, Status: StatusBot, Operator: &empty, Reason: &empty, Queue: QueueRemove}, m.now())
	return nst, err
}

// Erase removes everything of the session.
func (m *Manager) Erase(ctx context.Context, sid string) error {
	if _, err := m.existing(ctx, sid); err != nil {
		return err
	}
	return m.Store.Erase(ctx, sid)
}

func (m *Manager) existing(ctx context.Context, sid string) (State, error) {
	st, err := m.Store.State(ctx, sid)
	if err != nil {
		return st, err
	}
	if !st.Exists() {
		return st, fmt.Errorf("%w: %s", ErrNotFound, sid)
	}
	return st, nil
}
