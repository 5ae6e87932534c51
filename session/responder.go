package session

import (
	"context"
	"errors"

	"github.com/moodgate/moodgate/emotion"
)

// Mood is the state of one session's mood model that the policy and the
// responder see.
type Mood struct {
	// Avg is the exponentially weighted, time-decayed average of the class
	// probabilities of the session's messages.
	Avg emotion.Scores `json:"avg"`
	// Valence in [-1, 1]: joy pulls up, sadness and anger pull down.
	Valence float64 `json:"valence"`
	// Label is the latest message's label.
	Label emotion.Label `json:"label"`
	// Streak counts consecutive messages whose label was StreakLabel.
	Streak      int           `json:"streak"`
	StreakLabel emotion.Label `json:"streak_label"`
	// NegativeStreak counts consecutive messages labelled sadness or anger.
	NegativeStreak int `json:"negative_streak"`
	// Messages is the number of labelled user messages in the session.
	Messages int `json:"messages"`
}

// Turn is one line of a conversation given to a responder as context.
type Turn struct {
	// Role is "user", "bot" or "operator".
	Role string `json:"role"`
	Text string `json:"text"`
}

// ReplyRequest is what a responder gets for one user message.
type ReplyRequest struct {
	SessionID string
	Text      string
	Result    emotion.Result
	Mood      Mood
	// History holds the last turns before Text, oldest first.
	History []Turn
}

// Responder writes the bot's reply to one user message. Implementations are
// safe for concurrent use. A streaming responder calls delta with each piece
// of text as it arrives (delta may be nil); the returned string is the whole
// reply.
type Responder interface {
	Reply(ctx context.Context, req ReplyRequest, delta func(string)) (string, error)
	// Name is the backend's name for logs and metrics ("builtin", "ollama").
	Name() string
}

// ErrBusy is returned by a responder whose bounded queue of generations is
// full; the gateway answers the user with a "busy" reply.
var ErrBusy = errors.New("responder: too many generations in flight")
