package gateway_test

import (
	"net/http"
	"testing"

	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/session/sessiontest"
)

// TestClassifyRateLimited: POST /api/classify needs no sign-in, so one
// address cannot call it without limit (it may cost an Ollama call each).
func TestClassifyRateLimited(t *testing.T) {
	n := startNode(t, sessiontest.Miniredis(t), testConfig(t, func(c *gateway.Config) {
		c.MessageRate, c.MessageBurst = 0.01, 1 // 10 calls, then 429
	}))
	codes := map[int]int{}
	for i := 0; i < 15; i++ {
		resp, body := opRequest(t, n, "POST", "/api/classify", "", `{"text":"오늘 기분이 좋아요"}`)
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusOK && body["label"] == nil {
			t.Fatalf("classify answered %v", body)
		}
	}
	if codes[http.StatusOK] != 10 || codes[http.StatusTooManyRequests] != 5 {
		t.Fatalf("status counts %v, want 10 × 200 and 5 × 429", codes)
	}
}
