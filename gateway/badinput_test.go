package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/session/sessiontest"
)

// stillServes shows that the node answers a new client after an attack.
func stillServes(t *testing.T, n *node) {
	t.Helper()
	c, _ := connect(t, n, "", "", 0)
	c.say("ok", "안녕하세요")
	if f := c.expect("ack", "emotion", "reply"); f[0].ID != "ok" {
		t.Fatalf("after the attack: %s", f[0].raw)
	}
	c.ws.Close()
}

// closeOf reads until the server closes the socket and returns the close
// error, or fails on a timeout.
func closeOf(t *testing.T, c *client) *websocket.CloseError {
	t.Helper()
	c.ws.SetReadDeadline(deadline())
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok {
			t.Fatalf("socket ended with %v, want a close frame", err)
		}
		return ce
	}
}

// TestBadInput sends every kind of malformed, oversized or abusive input
// over a real socket. Each gets a clear error frame (and the connection
// goes on) or a close code with a reason, and the node still serves a new
// client afterwards.
func TestBadInput(t *testing.T) {
	n := startNode(t, sessiontest.Miniredis(t), testConfig(t, func(c *gateway.Config) { c.MaxMessageBytes = 1024 }), lexiconDeps())
	frames := []struct {
		name    string
		msgType int
		data    string
		code    string // expected error code, or "" for a close
		id      string // expected id in the error frame
		close   int
		reason  string
	}{
		{name: "not JSON", data: `hello`, code: gateway.CodeBadFrame},
		{name: "JSON array", data: `[1,2]`, code: gateway.CodeBadFrame},
		{name: "JSON null", data: `null`, code: gateway.CodeBadFrame},
		{name: "two objects", data: `{"type":"ping"}{"type":"ping"}`, code: gateway.CodeBadFrame},
		{name: "missing type", data: `{"id":"a","text":"안녕"}`, code: gateway.CodeBadFrame},
		{name: "type not a string", data: `{"type":7}`, code: gateway.CodeBadFrame},
		{name: "unknown type", data: `{"type":"admin","id":"a"}`, code: gateway.CodeUnknownType},
		{name: "missing id", data: `{"type":"message","text":"안녕"}`, code: gateway.CodeBadFrame},
		{name: "id with spaces", data: `{"type":"message","id":"a b","text":"안녕"}`, code: gateway.CodeBadFrame},
		{name: "id too long", data: `{"type":"message","id":"` + strings.Repeat("i", 65) + `","text":"안녕"}`, code: gateway.CodeBadFrame},
		{name: "missing text", data: `{"type":"message","id":"t1"}`, code: gateway.CodeInvalidText, id: "t1"},
		{name: "blank text", data: `{"type":"message","id":"t2","text":" \n\t "}`, code: gateway.CodeInvalidText, id: "t2"},
		{name: "text not a string", data: `{"type":"message","id":"t3","text":["a"]}`, code: gateway.CodeBadFrame},
		{name: "invalid UTF-8", data: "{\"type\":\"message\",\"id\":\"u1\",\"text\":\"\xff\xfe\"}", code: gateway.CodeInvalidText},
		{name: "lone surrogate", data: `{"type":"message","id":"u2","text":"\ud800"}`, code: gateway.CodeInvalidText, id: "u2"},
		{name: "NUL", data: `{"type":"message","id":"c1","text":"a\u0000b"}`, code: gateway.CodeInvalidText, id: "c1"},
		{name: "escape sequence", data: `{"type":"message","id":"c2","text":"\u001b[2Jclear"}`, code: gateway.CodeInvalidText, id: "c2"},
		{name: "C1 control", data: `{"type":"message","id":"c3","text":"a\u0085b"}`, code: gateway.CodeInvalidText, id: "c3"},
		{name: "frame over the byte limit", data: `{"type":"message","id":"big","text":"` + strings.Repeat("가", 400) + `"}`,
			close: websocket.CloseMessageTooBig},
		{name: "binary frame", msgType: websocket.BinaryMessage, data: `{"type":"ping"}`,
			close: websocket.CloseUnsupportedData, reason: "binary_frame"},
	}
	for _, tc := range frames {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := connect(t, n, "", "", 0)
			mt := tc.msgType
			if mt == 0 {
				mt = websocket.TextMessage
			}
			if err := c.ws.WriteMessage(mt, []byte(tc.data)); err != nil {
				t.Fatal(err)
			}
			if tc.close != 0 {
				ce := closeOf(t, c)
				if ce.Code != tc.close || (tc.reason != "" && ce.Text != tc.reason) {
					t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Text, tc.close, tc.reason)
				}
			} else {
				f := c.next()
				if f.Type != "error" || f.Code != tc.code || f.ID != tc.id || f.Retryable || f.Message == "" {
					t.Fatalf("got %s, want error %s id %q", f.raw, tc.code, tc.id)
				}
				// The connection goes on.
				c.send(map[string]string{"type": "ping"})
				if f := c.next(); f.Type != "pong" {
					t.Fatalf("after the refusal: %s", f.raw)
				}
			}
			stillServes(t, n)
		})
	}
}

// TestBadInputLongText: a message of 2001 characters is refused, 2000 pass.
func TestBadInputLongText(t *testing.T) {
	n := startNode(t, sessiontest.Miniredis(t), testConfig(t), lexiconDeps())
	c, _ := connect(t, n, "", "", 0)
	c.say("long", strings.Repeat("a", gateway.MaxTextRunes+1))
	if f := c.next(); f.Type != "error" || f.Code != gateway.CodeInvalidText || f.ID != "long" {
		t.Fatalf("2001 characters: %s", f.raw)
	}
	c.say("max", strings.Repeat("가", gateway.MaxTextRunes))
	if f := c.expect("ack"); f[0].ID != "max" {
		t.Fatalf("2000 characters: %s", f[0].raw)
	}
}

// TestBadInputFlood floods one session: past the burst its messages are
// refused with retryable rate_limited errors, and a sustained flood of
// refused frames closes the socket with 1008 "flood". Garbage frames count
// the same. Another session and the node are unaffected.
func TestBadInputFlood(t *testing.T) {
	n := startNode(t, sessiontest.Miniredis(t), testConfig(t, func(c *gateway.Config) { c.MessageRate, c.MessageBurst = 2, 3 }), lexiconDeps())
	other, _ := connect(t, n, "", "", 0)

	for _, kind := range []string{"messages", "garbage"} {
		t.Run(kind, func(t *testing.T) {
			c, w := connect(t, n, "", "", 0)
			for i := 0; i < 40; i++ {
				var err error
				if kind == "messages" {
					err = c.ws.WriteJSON(map[string]string{"type": "message", "id": fmt.Sprint("f", i), "text": "도배"})
				} else {
					err = c.ws.WriteMessage(websocket.TextMessage, []byte("garbage"))
				}
				if err != nil {
					break // the server has closed the socket
				}
			}
			limited := 0
			c.ws.SetReadDeadline(deadline())
			for {
				_, data, err := c.ws.ReadMessage()
				if err != nil {
					if !isClose(err, websocket.ClosePolicyViolation) || !strings.Contains(err.Error(), "flood") {
						t.Fatalf("flood ended with %v, want 1008 flood", err)
					}
					break
				}
				switch s := string(data); {
				case strings.Contains(s, `"code":"rate_limited"`):
					if !strings.Contains(s, `"retryable":true`) {
						t.Fatalf("rate_limited not retryable: %s", s)
					}
					limited++
				}
			}
			if kind == "garbage" {
				return
			}
			// The burst was admitted and stored (its acks may have been
			// queued after the close), the rest refused.
			if err := sessiontest.WaitFor(10*time.Second, func() error {
				if got := len(history(t, n, w.SessionID, w.Token)); got < 3 {
					return fmt.Errorf("%d events stored", got)
				}
				return nil
			}); err != nil || limited < 1 {
				t.Fatalf("flood: %v, %d rate_limited", err, limited)
			}
			acks := 0
			for _, f := range history(t, n, w.SessionID, w.Token) {
				if f.Type == "ack" {
					acks++
				}
			}
			if acks < 1 || acks > 5 {
				t.Fatalf("%d messages of the flood stored, want about the burst of 3", acks)
			}
		})
	}
	// Another session's messages pass: its own limiter has tokens. (The
	// address's shared limiter allows ten sessions' worth.)
	other.say("calm", "안녕하세요")
	if f := other.expect("ack"); f[0].ID != "calm" {
		t.Fatalf("other session: %s", f[0].raw)
	}
	stillServes(t, n)
}

// TestBadInputTooManyConnections opens more sockets from one address than
// MOODGATE_MAX_CONNS_PER_IP: the extra one, user or operator, is refused
// with HTTP 429 before the upgrade, and a slot frees when a socket closes.
func TestBadInputTooManyConnections(t *testing.T) {
	n := startNode(t, sessiontest.Miniredis(t), testConfig(t, func(c *gateway.Config) { c.MaxConnsPerIP = 3 }), lexiconDeps())
	var open []*client
	for i := 0; i < 3; i++ {
		c, _ := connect(t, n, "", "", 0)
		open = append(open, c)
	}
	_, resp, err := dial(t, n.wsURL("/ws"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth connection: %v %v", err, resp)
	}
	// Operator sockets count too, signed in or not: the address is full.
	if _, resp, err := dial(t, n.wsURL("/ws/operator"), nil); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("operator socket from a full address: %v %v", err, resp)
	}
	open[0].ws.Close()
	if err := sessiontest.WaitFor(10*time.Second, func() error {
		c, resp, err := dial(t, n.wsURL("/ws"), nil)
		if err != nil {
			return fmt.Errorf("%v %v", err, resp)
		}
		c.ws.Close()
		return nil
	}); err != nil {
		t.Fatalf("slot not freed: %v", err)
	}
}

// TestBadInputOperatorAPI sends malformed operator requests: each is
// refused with a 4xx and stores nothing.
func TestBadInputOperatorAPI(t *testing.T) {
	n := startNode(t, sessiontest.Miniredis(t), testConfig(t), lexiconDeps())
	c, w := connect(t, n, "", "", 0)
	c.say("a", "안녕하세요")
	c.expect("ack", "emotion", "reply")
	path := "/api/operator/sessions/" + w.SessionID + "/messages"
	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"not JSON", path, `hello`, 400},
		{"unknown field", path, `{"text":"a","admin":true}`, 400},
		{"text not a string", path, `{"text":5}`, 400},
		{"empty text", path, `{"text":"  "}`, 400},
		{"control characters", path, `{"text":"a\u0007"}`, 400},
		{"text too long", path, `{"text":"` + strings.Repeat("a", 2001) + `"}`, 400},
		{"body over 32 KiB", path, `{"text":"` + strings.Repeat("a", 40<<10) + `"}`, 413},
		{"malformed session id", "/api/operator/sessions/..%2F..%2Fetc/messages", `{"text":"a"}`, 400},
		{"short session id", "/api/operator/sessions/abc/messages", `{"text":"a"}`, 400},
		{"unknown session", "/api/operator/sessions/0000000000000000ffffffffffffffff/messages", `{"text":"a"}`, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := opRequest(t, n, "POST", tc.path, testOpToken, tc.body)
			if resp.StatusCode != tc.status || body["error"] == nil {
				t.Fatalf("%d %v, want %d with an error", resp.StatusCode, body, tc.status)
			}
		})
	}
	if evs := history(t, n, w.SessionID, w.Token); len(evs) != 3 {
		t.Fatalf("session has %d events after refused requests, want 3", len(evs))
	}
	resp, _ := opRequest(t, n, "POST", "/api/classify", "", `{"text":"`+strings.Repeat("a", 20<<10)+`"}`)
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("classify with a 20 KiB body: %d", resp.StatusCode)
	}
}
