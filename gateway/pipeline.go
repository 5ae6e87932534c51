package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/session"
)

// historyTurns is how many earlier turns a streaming responder gets.
const historyTurns = 10

// handleMessage runs one user message through the whole path: store and
// ack, label, mood and route, then a reply or an escalation. Storage and
// labelling use the server's context, not the connection's: a message that
// was read is finished even if its sender hangs up (a crisis message above
// all). Only the bot's generation stops with the connection.
func (s *Server) handleMessage(c *userConn, f clientFrame) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	raw, st, dup, err := s.mgr.Accept(ctx, c.sid, f.ID, f.Text)
	if err != nil {
		s.metrics.messages.WithLabelValues("store_error").Inc()
		s.log.Warn("message not stored", "session", c.sid, "err", err)
		pe := protoErr(CodeStoreUnavailable, "메시지를 저장하지 못해 보내지 못했어요. 잠시 후 다시 보내 주세요. (message not stored; please resend)")
		pe.ID, pe.Retryable = f.ID, true
		c.sendError(pe)
		return
	}
	if dup {
		s.metrics.messages.WithLabelValues("duplicate").Inc()
		c.direct(raw)
		// The first attempt may have been stored by a node that died
		// before labelling it (a crisis above all must not go unseen):
		// finish it from the stored text. Labelling happens once per
		// message: when it was done there is nothing left to do.
		if raw.Labelled {
			return
		}
		var ev session.Event
		if json.Unmarshal(raw.JSON, &ev) != nil || ev.Text == "" {
			return
		}
		f.Text = ev.Text
	} else {
		s.metrics.messages.WithLabelValues("accepted").Inc()
		c.direct(raw)
		s.metrics.latency.WithLabelValues("ack").Observe(time.Since(start).Seconds())
	}

	res, err := s.classifier.Classify(ctx, f.Text)
	if err != nil {
		s.log.Error("classifier failed", "session", c.sid, "err", err)
		res = emotion.Result{Label: emotion.Neutral, Scores: emotion.Scores{1, 0, 0, 0}, Source: emotion.SourceEmbedded}
		res.Crisis, res.CrisisRule = emotion.ScreenCrisis(f.Text)
	}
	out, err := s.mgr.Label(ctx, st, raw.Seq, f.Text, res, s.inline)
	if errors.Is(err, session.ErrLabelled) {
		return
	}
	if err != nil {
		s.metrics.messages.WithLabelValues("label_error").Inc()
		s.log.Warn("label not stored", "session", c.sid, "seq", raw.Seq, "err", err)
		// Resending the same id finishes the message (see the dup case).
		pe := protoErr(CodeStoreUnavailable, "메시지는 저장했지만 답장을 준비하지 못했어요. 다시 보내 주세요. (message stored, but the reply failed; resend it)")
		pe.ID, pe.Retryable = f.ID, true
		c.sendError(pe)
		return
	}
	for _, r := range out.Events {
		c.direct(r)
	}
	s.metrics.latency.WithLabelValues("labelled").Observe(time.Since(start).Seconds())
	if out.Route.Escalate != "" {
		s.metrics.escalations.WithLabelValues(out.Route.Escalate).Inc()
		if res.Crisis {
			s.log.Info("escalation", "session", c.sid, "reason", out.Route.Escalate, "crisis_rule", res.CrisisRule)
		} else {
			s.log.Info("escalation", "session", c.sid, "reason", out.Route.Escalate)
		}
	}
	if out.ReplyPending {
		s.generate(c, raw.Seq, f.Text, res, out.Mood)
	} else if s.inline != nil && out.Route.Reply {
		s.metrics.replies.WithLabelValues(s.inline.Name(), "ok").Inc()
	}
	s.metrics.latency.WithLabelValues("reply").Observe(time.Since(start).Seconds())
}

// generate streams a reply from the configured responder to the user as
// reply.delta frames, then stores the whole reply. On failure the built-in
// responder answers, marked as degraded; when every slot is taken the user
// gets the busy reply.
func (s *Server) generate(c *userConn, ref int64, text string, res emotion.Result, mood session.Mood) {
	hist, err := s.history(ref, c.sid)
	if err != nil {
		s.log.Warn("history not read", "session", c.sid, "err", err)
	}
	gctx, cancel := context.WithTimeout(c.ctx, s.cfg.ChatTimeout)
	req := session.ReplyRequest{SessionID: c.sid, Text: text, Result: res, Mood: mood, History: hist}
	reply, err := s.responder.Reply(gctx, req, func(d string) {
		c.send(mustJSON(deltaFrame{Type: "reply.delta", Ref: ref, Text: d}))
	})
	cancel()
	notice := ""
	switch {
	case err == nil:
		s.metrics.replies.WithLabelValues(s.responder.Name(), "ok").Inc()
	case errors.Is(err, session.ErrBusy):
		s.metrics.replies.WithLabelValues(s.responder.Name(), "busy").Inc()
		reply, notice = session.BusyReply, "busy"
	default:
		outcome := "error"
		if c.ctx.Err() != nil {
			outcome = "cancelled"
		}
		s.metrics.replies.WithLabelValues(s.responder.Name(), outcome).Inc()
		s.log.Warn("reply generation failed; built-in reply instead", "session", c.sid, "err", err)
		reply, _ = session.Builtin{}.Reply(s.ctx, req, nil)
		notice = session.FallbackNotice
	}
	ctx, cancel2 := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel2()
	raw, err := s.mgr.Reply(ctx, c.sid, ref, "bot", "", reply, notice)
	if errors.Is(err, session.ErrReplied) {
		// Another node answered it first (it recovered a reply it thought
		// owed): the user has that one.
		s.log.Info("reply not stored: the message was answered already", "session", c.sid, "ref", ref)
		return
	}
	if err != nil {
		s.log.Warn("reply not stored", "session", c.sid, "err", err)
		pe := protoErr(CodeStoreUnavailable, "답장을 저장하지 못했어요. (reply not stored)")
		c.sendError(pe)
		return
	}
	c.direct(raw)
}

// history reads the turns before message ref for a streaming responder.
func (s *Server) history(ref int64, sid string) ([]session.Turn, error) {
	if ref <= 1 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	after := max(0, ref-1-4*historyTurns)
	raws, err := s.store.Events(ctx, sid, after, int(ref-1-after))
	if err != nil {
		return nil, err
	}
	var turns []session.Turn
	for _, r := range raws {
		var e session.Event
		if json.Unmarshal(r.JSON, &e) != nil {
			continue
		}
		switch e.Type {
		case session.TypeAck:
			turns = append(turns, session.Turn{Role: "user", Text: e.Text})
		case session.TypeReply:
			turns = append(turns, session.Turn{Role: e.From, Text: e.Text})
		}
	}
	if len(turns) > historyTurns {
		turns = turns[len(turns)-historyTurns:]
	}
	return turns, nil
}
