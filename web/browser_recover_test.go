package web_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/session"
)

// firstStuckResponder's first generation streams a piece and then never
// ends until released, whatever its context says (to the store, a node that
// died mid-generation); every later one answers at once.
type firstStuckResponder struct {
	release chan struct{}
	once    sync.Once
}

func (r *firstStuckResponder) Reply(ctx context.Context, req session.ReplyRequest, delta func(string)) (string, error) {
	first := false
	r.once.Do(func() { first = true })
	if first {
		delta("생각 중이에요")
		<-r.release
		return "늦게 도착한 답장", nil
	}
	delta("기다리게 해서 ")
	delta("미안해요.")
	return "기다리게 해서 미안해요.", nil
}

func (r *firstStuckResponder) Name() string { return "first-stuck" }

// TestBrowserReplyRecovered: a reply is streaming when the network drops and
// its generation is never stored. After the page reconnects, the pieces it
// had shown are gone, the server answers the message afresh (stream, then
// the stored reply), and the late first answer never shows up: one bot
// reply, also after a reload.
func TestBrowserReplyRecovered(t *testing.T) {
	needChromium(t)
	resp := &firstStuckResponder{release: make(chan struct{})}
	base := startGatewayWith(t, func(c *gateway.Config) { c.ChatTimeout = 3 * time.Second },
		gateway.Deps{Responder: resp, ReplyGrace: 200 * time.Millisecond})
	net := newDropProxy(t, base)
	released := false
	release := func() {
		if !released {
			released = true
			close(resp.release)
		}
	}
	t.Cleanup(release)
	browser := newBrowser(t)
	user := chat{newTab(t, browser, "chat", 390, 844, true)}
	user.open(net.URL())

	text := "오늘 정말 힘든 하루였어요"
	user.send(text)
	seq := user.acked(text)
	user.waitFor("the reply to start streaming",
		`[...document.querySelectorAll('#pending .msg.streaming .text')].some(p => p.textContent === '생각 중이에요')`)
	net.SetOffline(true)
	user.waitFor("the page to notice", `document.body.dataset.conn !== 'online'`)
	net.SetOffline(false)
	user.waitOnline()
	// The server answers only after the chat timeout (3 s from the label);
	// the welcome already took the dead stream's pieces away.
	var stale int
	user.mustEval(`[...document.querySelectorAll('.msg.streaming .text')].filter(p => p.textContent.includes('생각 중이에요')).length`, &stale)
	if stale != 0 {
		t.Fatalf("%d streaming bubbles of the lost connection still shown after the reconnect", stale)
	}
	user.botAnswered(seq)
	final := `[...document.querySelectorAll('#log .msg.bot .text')].map(p => p.textContent)`
	var got []string
	user.mustEval(final, &got)
	if len(got) != 1 || got[0] != "기다리게 해서 미안해요." {
		t.Fatalf("bot replies %q, want the recovered one only", got)
	}
	var left int
	user.mustEval(`document.querySelectorAll('.msg.streaming').length`, &left)
	if left != 0 {
		t.Fatalf("%d streaming bubbles left", left)
	}

	// The stuck generation ends: its reply is refused by the store. A
	// reload shows the stored conversation: still one reply.
	release()
	user.send("고마워요")
	seq2 := user.acked("고마워요")
	user.botAnswered(seq2)
	user.do(chromedp.Reload())
	user.waitOnline()
	user.botAnswered(seq2)
	user.mustEval(final, &got)
	if len(got) != 2 || got[0] != "기다리게 해서 미안해요." || got[1] != "기다리게 해서 미안해요." {
		t.Fatalf("after a reload the bot replies are %q, want the recovered one and the second message's", got)
	}
	user.noDialogsOrExceptions()
}
