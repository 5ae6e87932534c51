package gateway_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/moodgate/moodgate/session/sessiontest"
)

// TestGracefulShutdown: Shutdown closes every socket with 1001 after the
// messages already read are finished, and refuses new connections.
func TestGracefulShutdown(t *testing.T) {
	rdb := sessiontest.RealRedis(t).Client(t)
	n := startNode(t, rdb, testConfig(t), lexiconDeps())
	user, _ := connect(t, n, "", "", 0)
	op, _ := connectOperator(t, n, testOpToken, "")
	user.say("m1", "안녕하세요")
	user.expect("ack", "emotion", "reply")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client{"user": user, "operator": op.client} {
		c.ws.SetReadDeadline(deadline())
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				if !isClose(err, 1001) {
					t.Fatalf("%s closed with %v, want 1001", name, err)
				}
				break
			}
		}
	}
	if _, resp, err := dial(t, n.wsURL("/ws"), nil); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("new connection while draining: %v %v", err, resp)
	}
	if resp, _ := opRequest(t, n, "GET", "/readyz", "", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining: %d", resp.StatusCode)
	}
}
