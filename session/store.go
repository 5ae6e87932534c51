package session

import (
	"context"
	"errors"
	"time"
)

// Status is where a session is in the escalation lifecycle.
type Status string

// The lifecycle: bot → escalated (open) → claimed (an operator holds it) →
// bot again when the operator resolves it.
const (
	StatusBot       Status = "bot"
	StatusEscalated Status = "escalated"
	StatusClaimed   Status = "claimed"
)

// State is a session's stored state, read with every append.
type State struct {
	ID       string
	Seq      int64 // the highest seq stored
	Status   Status
	Operator string // who holds it, when claimed
	// Reason is the open escalation's reason; EscalatedAt when it opened
	// (kept after resolution for the cooldowns).
	Reason      string
	EscalatedAt time.Time
	CreatedAt   time.Time
	LastAt      time.Time
	Mood        MoodState
	// MoodVersion guards the read-modify-write of the mood across nodes.
	MoodVersion int64
	// Erased: an operator erased the session; its id takes no more events.
	Erased bool
}

// Exists reports whether anything of the session is stored.
func (s State) Exists() bool { return s.Seq > 0 }

// NeedsPerson reports whether the session waits for an operator.
func (s State) NeedsPerson() bool { return s.Status == StatusEscalated }

// Change is what one atomic append does besides storing events.
type Change struct {
	// ExpectMoodVersion, when set, makes the append fail with ErrConflict if
	// another node updated the mood since the state was read.
	ExpectMoodVersion *int64
	Mood              *MoodState
	Point             *Point // appended to the mood timeline
	Status            Status // "" leaves it
	Operator          *string
	Reason            *string
	EscalatedAt       time.Time
	// Holder, when set, makes the append fail with ErrHeld unless the
	// session is free or held by this operator.
	Holder string
	Queue  QueueOp
	// LabelRef, when set, makes the append happen once per message: a
	// second append with the same LabelRef stores nothing and fails with
	// ErrLabelled.
	LabelRef int64
	// ReplyRef, when set, makes the append happen once per message in the
	// same way, for the bot's reply to message ReplyRef: a second one stores
	// nothing and fails with ErrReplied. At most one of LabelRef and
	// ReplyRef is set.
	ReplyRef int64
}

// QueueOp changes the escalation queue.
type QueueOp int

// Queue operations.
const (
	QueueKeep QueueOp = iota
	QueueAdd
	QueueRemove
)

// Point is one point of the mood timeline.
type Point struct {
	TS      int64              `json:"ts"`
	Seq     int64              `json:"seq"`
	Label   string             `json:"label"`
	Scores  map[string]float64 `json:"scores"`
	Valence float64            `json:"valence"`
}

// Raw is a stored event as its JSON, with its seq.
type Raw struct {
	Seq  int64
	JSON []byte
	// Labelled is set on a duplicate returned by AppendMessage when that
	// message was labelled already, so a resend need not be classified again.
	Labelled bool
}

// ErasedNotice is the feed entry (seq 0) that Erase puts on the feed.
const ErasedNotice = `{"type":"erased"}`

// FeedEntry is one event on the shared feed that every node and every
// operator dashboard reads.
type FeedEntry struct {
	Offset  string // the Redis stream id
	Session string
	Seq     int64 // 0 for a session-level notice such as an erase
	JSON    []byte
}

// Sentinel errors callers branch on.
var (
	// ErrConflict: the mood changed since it was read (a message of the
	// same session was handled on another node); read again and retry.
	ErrConflict = errors.New("session: concurrent update")
	// ErrHeld: another operator holds the session.
	ErrHeld = errors.New("session: held by another operator")
	// ErrNotFound: nothing of the session is stored.
	ErrNotFound = errors.New("session: not found")
	// ErrErased: the session was erased; its id takes no more events.
	ErrErased = errors.New("session: erased")
	// ErrUnavailable wraps a failure of the store itself (Redis down): the
	// operation did not happen and may be retried.
	ErrUnavailable = errors.New("session: store unavailable")
	// ErrLabelled: the message was labelled before (by this node or
	// another); nothing was stored.
	ErrLabelled = errors.New("session: message already labelled")
	// ErrReplied: the bot answered the message before (this node or
	// another, for example one that recovered a reply a dead node owed);
	// nothing was stored.
	ErrReplied = errors.New("session: message already answered")
)

// Store keeps sessions. All methods are safe for concurrent use.
type Store interface {
	// AppendMessage stores a user message (one round trip). A client id
	// seen before returns the stored event and dup=true, storing nothing.
	AppendMessage(ctx context.Context, sid, clientID, text string, now time.Time) (ev Raw, st State, dup bool, err error)
	// Append stores events and applies ch atomically (one round trip).
	Append(ctx context.Context, sid string, events []*Event, ch Change, now time.Time) ([]Raw, State, error)
	// State reads a session's state.
	State(ctx context.Context, sid string) (State, error)
	// States reads many sessions' states in one round trip.
	States(ctx context.Context, sids []string) ([]State, error)
	// Events returns stored events with seq > after, at most limit (0: all).
	Events(ctx context.Context, sid string, after int64, limit int) ([]Raw, error)
	// Timeline returns the mood timeline, oldest first.
	Timeline(ctx context.Context, sid string) ([]Point, error)
	// Recent lists session ids by last activity, newest first.
	Recent(ctx context.Context, limit int) ([]string, error)
	// Queue lists escalated session ids in queue order (severity, then age).
	Queue(ctx context.Context) ([]string, error)
	// Erase removes everything of a session, including its feed entries.
	Erase(ctx context.Context, sid string) error
	// ReadFeed blocks up to block for feed entries after offset ("$" for
	// new ones only; "0" for all).
	ReadFeed(ctx context.Context, offset string, count int, block time.Duration) ([]FeedEntry, error)
	// FeedTail returns the newest feed offset ("0-0" when empty).
	FeedTail(ctx context.Context) (string, error)
	// Ping checks the store.
	Ping(ctx context.Context) error
}
