package gateway_test

import (
	"fmt"
	"testing"

	"github.com/moodgate/moodgate/gateway"

	"github.com/moodgate/moodgate/session/sessiontest"
)

// BenchmarkGatewayMessage is one whole user message through the gateway in
// process, over a real WebSocket and a real redis-server: send, then ack,
// emotion and reply back, with the embedded classifier and the built-in
// responder.
func BenchmarkGatewayMessage(b *testing.B) {
	n := startNode(b, sessiontest.RealRedis(b, "--appendonly", "no").Client(b), testConfig(b, func(c *gateway.Config) {
		c.MessageRate, c.MessageBurst = 1e6, 1e6 // measure the path, not the limiter
	}))
	c, _ := connect(b, n, "", "", 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.say(fmt.Sprint("m", i), "오늘은 그냥 평범한 하루였어요")
		for {
			f := c.next()
			if f.Type == "error" {
				b.Fatalf("error frame %s", f.raw)
			}
			if f.Type == "reply" || f.Type == "escalation" {
				break
			}
		}
		c.seen = c.seen[:0]
	}
}
