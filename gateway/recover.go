package gateway

import (
	"context"
	"time"

	"github.com/moodgate/moodgate/session"
)

// A streamed bot reply is stored after its generation ends, so a node that
// dies mid-generation leaves the user's message labelled and unanswered (see
// session.OwedReply). The user's next connection, on any node, answers it.
const (
	// defaultReplyGrace is added to the chat timeout before a reply counts
	// as abandoned (Deps.ReplyGrace): the node that labelled the message
	// stores its reply, or the fallback, within its chat timeout (nodes
	// share MOODGATE_CHAT_TIMEOUT) plus one Redis write.
	defaultReplyGrace = 5 * time.Second
	// owedReplyMaxAge: a message older than this is not answered any more;
	// a reply after an hour would answer a conversation the user has left.
	owedReplyMaxAge = time.Hour
)

// recoverReply answers the reply the bot owes in c's session, if any, once
// the node that owed it has had its chance. It runs beside the read loop
// and stops with the connection. If the user writes meanwhile, the owed
// message is no longer the last event and is left alone (the new message's
// reply has it in its history). Two nodes that both recover store one reply:
// the second gets session.ErrReplied.
func (s *Server) recoverReply(c *userConn, st session.State) {
	o, wait, ok := s.owedReply(c, &st)
	if !ok {
		return
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
	}
	// Look again, at the state now: the first node may have answered
	// after all, or the user may have written.
	again, wait, ok := s.owedReply(c, nil)
	if !ok || wait > 0 || again.Ref != o.Ref {
		return
	}
	s.log.Info("answering a reply its node never stored", "session", c.sid, "ref", o.Ref,
		"labelled_at", o.LabelledAt)
	s.metrics.recovered.Inc()
	s.generate(c, o.Ref, o.Text, o.Result, o.Mood)
}

// owedReply reads the reply owed in c's session and how long to wait before
// answering it; st is the session's state when the caller has just read it
// (nil: read it now).
func (s *Server) owedReply(c *userConn, st *session.State) (session.Owed, time.Duration, bool) {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	if st == nil {
		fresh, err := s.store.State(ctx, c.sid)
		if err != nil {
			return session.Owed{}, 0, false
		}
		st = &fresh
	}
	o, ok, err := s.mgr.OwedReply(ctx, *st)
	if err != nil {
		s.log.Warn("owed reply not checked", "session", c.sid, "err", err)
		return o, 0, false
	}
	if !ok {
		return o, 0, false
	}
	if o.Age > owedReplyMaxAge {
		return o, 0, false
	}
	return o, s.cfg.ChatTimeout + s.replyGrace - o.Age, true
}
