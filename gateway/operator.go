package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/moodgate/moodgate/session"
)

// operatorAuth checks bearer tokens in constant time: the presented token is
// hashed and compared with every known token's hash, so neither the length
// nor the position of a match leaks through timing.
type operatorAuth struct {
	hashes [][sha256.Size]byte
	names  []string
}

func newOperatorAuth(tokens map[string]string) *operatorAuth {
	a := &operatorAuth{}
	for tok, name := range tokens {
		a.hashes = append(a.hashes, sha256.Sum256([]byte(tok)))
		a.names = append(a.names, name)
	}
	return a
}

// name returns the operator a token belongs to, or "".
func (a *operatorAuth) name(token string) string {
	h := sha256.Sum256([]byte(token))
	found := ""
	for i := range a.hashes {
		if subtle.ConstantTimeCompare(h[:], a.hashes[i][:]) == 1 {
			found = a.names[i]
		}
	}
	return found
}

const operatorKey = "operator"

func (a *operatorAuth) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		name := ""
		if ok {
			name = a.name(strings.TrimSpace(tok))
		}
		if name == "" {
			return echo.NewHTTPError(http.StatusUnauthorized, "unauthorized")
		}
		c.Set(operatorKey, name)
		return next(c)
	}
}

// Summary is one session as the operator API shows it.
type Summary struct {
	SessionID   string       `json:"session_id"`
	State       string       `json:"state"`
	Operator    string       `json:"operator,omitempty"`
	CreatedAt   int64        `json:"created_at"`
	LastAt      int64        `json:"last_at"`
	Mood        session.Mood `json:"mood"`
	Escalation  *Escalation  `json:"escalation,omitempty"`
	NeedsPerson bool         `json:"needs_person"`
	Seq         int64        `json:"seq"`
}

// Escalation is an open escalation.
type Escalation struct {
	SessionID string `json:"session_id,omitempty"`
	Reason    string `json:"reason"`
	Severity  int    `json:"severity"`
	OpenedAt  int64  `json:"opened_at"`
	State     string `json:"state,omitempty"`
	Operator  string `json:"operator,omitempty"`
}

func summarize(st session.State) Summary {
	s := Summary{SessionID: st.ID, State: string(st.Status), Operator: st.Operator,
		CreatedAt: st.CreatedAt.UnixMilli(), LastAt: st.LastAt.UnixMilli(), Mood: st.Mood.Mood,
		NeedsPerson: st.NeedsPerson(), Seq: st.Seq}
	if st.Status != session.StatusBot && st.Reason != "" {
		s.Escalation = &Escalation{Reason: st.Reason, Severity: session.Severity(st.Reason), OpenedAt: st.EscalatedAt.UnixMilli()}
	}
	return s
}

// urgency orders sessions for the dashboard: waiting escalations by
// severity, then held sessions, then the rest.
func urgency(s Summary) int {
	switch {
	case s.NeedsPerson && s.Escalation != nil:
		return 10 + s.Escalation.Severity
	case s.State == string(session.StatusClaimed):
		return 5
	}
	return 0
}

const maxListed = 500

func (s *Server) operatorRoutes(g *echo.Group) {
	g.GET("/me", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"name": c.Get(operatorKey).(string)})
	})
	g.GET("/sessions", s.listSessions)
	g.GET("/sessions/:id", s.getSession)
	g.GET("/queue", s.getQueue)
	g.POST("/sessions/:id/claim", s.claimSession)
	g.POST("/sessions/:id/messages", s.operatorMessage, bodyLimit(32<<10))
	g.POST("/sessions/:id/resolve", s.resolveSession)
	g.DELETE("/sessions/:id", s.eraseSession)
}

func (s *Server) storeError(err error) error {
	switch {
	case errors.Is(err, session.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "no such session")
	case errors.Is(err, session.ErrHeld):
		return echo.NewHTTPError(http.StatusConflict, "another operator holds this session")
	case errors.Is(err, session.ErrUnavailable):
		return echo.NewHTTPError(http.StatusServiceUnavailable, "store unavailable, retry")
	}
	s.log.Error("operator API", "err", err)
	return echo.NewHTTPError(http.StatusInternalServerError, "internal error")
}

func sessionParam(c echo.Context) (string, error) {
	id := c.Param("id")
	if !session.ValidID(id) {
		return "", echo.NewHTTPError(http.StatusBadRequest, "malformed session id")
	}
	return id, nil
}

func (s *Server) listSessions(c echo.Context) error {
	ctx := c.Request().Context()
	ids, err := s.store.Recent(ctx, maxListed)
	if err != nil {
		return s.storeError(err)
	}
	queued, err := s.store.Queue(ctx)
	if err != nil {
		return s.storeError(err)
	}
	ids = mergeIDs(queued, ids)
	sts, err := s.store.States(ctx, ids)
	if err != nil {
		return s.storeError(err)
	}
	out := make([]Summary, 0, len(sts))
	for _, st := range sts {
		if st.Exists() {
			out = append(out, summarize(st))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ui, uj := urgency(out[i]), urgency(out[j])
		if ui != uj {
			return ui > uj
		}
		if ui >= 10 {
			return out[i].Escalation.OpenedAt < out[j].Escalation.OpenedAt
		}
		return out[i].LastAt > out[j].LastAt
	})
	return c.JSON(http.StatusOK, map[string]any{"sessions": out})
}

func mergeIDs(first, rest []string) []string {
	seen := make(map[string]bool, len(first)+len(rest))
	out := make([]string, 0, len(first)+len(rest))
	for _, l := range [][]string{first, rest} {
		for _, id := range l {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

func (s *Server) getSession(c echo.Context) error {
	id, err := sessionParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	st, err := s.store.State(ctx, id)
	if err != nil {
		return s.storeError(err)
	}
	if !st.Exists() {
		return s.storeError(session.ErrNotFound)
	}
	raws, err := s.store.Events(ctx, id, 0, 0)
	if err != nil {
		return s.storeError(err)
	}
	tl, err := s.store.Timeline(ctx, id)
	if err != nil {
		return s.storeError(err)
	}
	events := make([]json.RawMessage, len(raws))
	for i, r := range raws {
		events[i] = r.JSON
	}
	return c.JSON(http.StatusOK, map[string]any{"session": summarize(st), "events": events, "timeline": tl})
}

func (s *Server) getQueue(c echo.Context) error {
	ctx := c.Request().Context()
	ids, err := s.store.Queue(ctx)
	if err != nil {
		return s.storeError(err)
	}
	sts, err := s.store.States(ctx, ids)
	if err != nil {
		return s.storeError(err)
	}
	out := make([]Escalation, 0, len(sts))
	for _, st := range sts {
		if !st.Exists() || st.Status == session.StatusBot {
			continue
		}
		out = append(out, Escalation{SessionID: st.ID, Reason: st.Reason, Severity: session.Severity(st.Reason),
			OpenedAt: st.EscalatedAt.UnixMilli(), State: string(st.Status), Operator: st.Operator})
	}
	// Waiting escalations before held ones; the store already orders by
	// severity, then waiting time.
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].State == string(session.StatusEscalated) && out[j].State != string(session.StatusEscalated)
	})
	return c.JSON(http.StatusOK, map[string]any{"escalations": out})
}

func (s *Server) claimSession(c echo.Context) error {
	id, err := sessionParam(c)
	if err != nil {
		return err
	}
	st, err := s.mgr.Claim(c.Request().Context(), id, c.Get(operatorKey).(string))
	if err != nil {
		return s.storeError(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"session": summarize(st)})
}

func (s *Server) resolveSession(c echo.Context) error {
	id, err := sessionParam(c)
	if err != nil {
		return err
	}
	st, err := s.mgr.Resolve(c.Request().Context(), id, c.Get(operatorKey).(string))
	if err != nil {
		return s.storeError(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"session": summarize(st)})
}

// OperatorMessage is the body of POST /api/operator/sessions/:id/messages.
type OperatorMessage struct {
	Text string `json:"text"`
}

// parseOperatorMessage decodes and checks an operator message body.
func parseOperatorMessage(b []byte) (OperatorMessage, error) {
	var m OperatorMessage
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, errors.New("body must be JSON {\"text\": …}")
	}
	if pe := checkText(m.Text); pe != nil {
		return m, errors.New(pe.Message)
	}
	m.Text = strings.TrimSpace(m.Text)
	return m, nil
}

func (s *Server) operatorMessage(c echo.Context) error {
	id, err := sessionParam(c)
	if err != nil {
		return err
	}
	body, err := readBody(c)
	if err != nil {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "body too large")
	}
	m, err := parseOperatorMessage(body)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	ctx := c.Request().Context()
	if st, err := s.store.State(ctx, id); err != nil {
		return s.storeError(err)
	} else if !st.Exists() {
		return s.storeError(session.ErrNotFound)
	}
	raw, err := s.mgr.Reply(ctx, id, 0, "operator", c.Get(operatorKey).(string), m.Text, "")
	if err != nil {
		return s.storeError(err)
	}
	return c.JSON(http.StatusOK, map[string]int64{"seq": raw.Seq})
}

func readBody(c echo.Context) ([]byte, error) { return io.ReadAll(c.Request().Body) }

func (s *Server) eraseSession(c echo.Context) error {
	id, err := sessionParam(c)
	if err != nil {
		return err
	}
	if err := s.mgr.Erase(c.Request().Context(), id); err != nil {
		return s.storeError(err)
	}
	s.log.Info("session erased", "session", id, "operator", c.Get(operatorKey).(string))
	return c.NoContent(http.StatusNoContent)
}
