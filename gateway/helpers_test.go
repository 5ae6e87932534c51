package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/session/sessiontest"
)

const (
	testSecret   = "test-secret-0123456789abcdef"
	testOpToken  = "operator-token-kim-0123456789"
	testOpToken2 = "operator-token-lee-0123456789"
)

func testConfig(t testing.TB, mutate ...func(*gateway.Config)) gateway.Config {
	cfg := gateway.Config{
		Secret:         testSecret,
		RedisPrefix:    sessiontest.Prefix(t),
		OperatorTokens: map[string]string{testOpToken: "kim", testOpToken2: "lee"},
		MessageRate:    1000, MessageBurst: 1000,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type node struct {
	srv  *gateway.Server
	http *httptest.Server
}

func startNode(t testing.TB, rdb redis.UniversalClient, cfg gateway.Config, deps ...gateway.Deps) *node {
	t.Helper()
	d := gateway.Deps{}
	if len(deps) > 0 {
		d = deps[0]
	}
	d.Redis = rdb
	srv, err := gateway.New(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	n := &node{srv: srv, http: hs}
	t.Cleanup(func() { n.stop() })
	return n
}

func (n *node) stop() {
	if n.http == nil {
		return
	}
	n.http.CloseClientConnections()
	n.http.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.srv.Shutdown(ctx)
	n.http = nil
}

func (n *node) wsURL(path string) string { return "ws" + strings.TrimPrefix(n.http.URL, "http") + path }

// frame is any server frame.
type frame struct {
	Type      string             `json:"type"`
	Seq       int64              `json:"seq"`
	Ref       int64              `json:"ref"`
	ID        string             `json:"id"`
	Text      string             `json:"text"`
	From      string             `json:"from"`
	Operator  string             `json:"operator"`
	SessionID string             `json:"session_id"`
	Token     string             `json:"token"`
	Resumed   bool               `json:"resumed"`
	Label     string             `json:"label"`
	LabelKo   string             `json:"label_ko"`
	Scores    map[string]float64 `json:"scores"`
	Source    string             `json:"source"`
	Crisis    bool               `json:"crisis"`
	Reason    string             `json:"reason"`
	Code      string             `json:"code"`
	Retryable bool               `json:"retryable"`
	Message   string             `json:"message"`
	Action    string             `json:"action"`
	Offset    string             `json:"offset"`
	Event     json.RawMessage    `json:"event"`
	raw       string
}

type client struct {
	t    testing.TB
	ws   *websocket.Conn
	seen []frame
}

func dial(t testing.TB, u string, h http.Header) (*client, *http.Response, error) {
	ws, resp, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		return nil, resp, err
	}
	c := &client{t: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	return c, resp, nil
}

// connect opens a user session (or resumes one) and returns the welcome.
func connect(t testing.TB, n *node, sid, token string, lastSeq int64) (*client, frame) {
	t.Helper()
	u := n.wsURL("/ws")
	if sid != "" {
		u += fmt.Sprintf("?session=%s&token=%s&last_seq=%d", url.QueryEscape(sid), url.QueryEscape(token), lastSeq)
	}
	c, resp, err := dial(t, u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	w := c.next()
	if w.Type != "welcome" {
		t.Fatalf("first frame %s", w.raw)
	}
	return c, w
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) say(id, text string) {
	c.t.Helper()
	c.send(map[string]string{"type": "message", "id": id, "text": text})
}

func (c *client) next() frame {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v (seen %d frames)", err, len(c.seen))
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("frame is not JSON: %s", data)
	}
	f.raw = string(data)
	c.seen = append(c.seen, f)
	return f
}

// until reads frames until one of type typ arrives and returns it.
func (c *client) until(typ string) frame {
	c.t.Helper()
	for {
		if f := c.next(); f.Type == typ {
			return f
		}
	}
}

// expect reads the next frames, skipping reply.delta, and checks their types.
func (c *client) expect(types ...string) []frame {
	c.t.Helper()
	var out []frame
	for len(out) < len(types) {
		f := c.next()
		if f.Type == "reply.delta" {
			continue
		}
		if f.Type != types[len(out)] {
			c.t.Fatalf("frame %d: got %s, want %s", len(out), f.raw, types[len(out)])
		}
		out = append(out, f)
	}
	return out
}

func opRequest(t testing.TB, n *node, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, n.http.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp, m
}

// lexicon is a test classifier with a fixed, known answer per keyword, so
// routing tests do not depend on the embedded model's weights (the
// classifier's own quality is tested in package emotion). It runs inside an
// emotion.Chain like the real one, so the crisis screen applies.
type lexicon struct{}

func (lexicon) Classify(_ context.Context, text string) (emotion.Result, error) {
	l := emotion.Neutral
	switch {
	case strings.Contains(text, "슬프"), strings.Contains(text, "우울"), strings.Contains(text, "눈물"):
		l = emotion.Sadness
	case strings.Contains(text, "행복"), strings.Contains(text, "좋아"), strings.Contains(text, "고마"):
		l = emotion.Joy
	case strings.Contains(text, "화가"), strings.Contains(text, "짜증"):
		l = emotion.Anger
	}
	var s emotion.Scores
	for i := range s {
		s[i] = 0.1 / 3
	}
	s[l] = 0.9
	return emotion.Result{Label: l, Scores: s, Source: emotion.SourceEmbedded}, nil
}

func lexiconDeps() gateway.Deps {
	return gateway.Deps{Classifier: emotion.NewChain(nil, lexicon{}, emotion.ChainOptions{})}
}

func deadline() time.Time { return time.Now().Add(10 * time.Second) }

func isClose(err error, code int) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && ce.Code == code
}
