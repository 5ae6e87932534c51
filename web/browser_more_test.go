package web_test

// Browser tests of single behaviours, each on its own gateway.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ollama/ollama/api"

	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/ollama"
	"github.com/moodgate/moodgate/ollama/ollamatest"
)

// TestBrowserLabels checks that labels appear on the user's messages only
// when the server says show_labels.
func TestBrowserLabels(t *testing.T) {
	needChromium(t)
	base := startGateway(t, func(c *gateway.Config) { c.ShowLabels = true })
	browser := newBrowser(t)
	user := chat{newTab(t, browser, "chat", 390, 844, true)}
	user.open(base)
	text := "너무 슬프고 우울해요"
	user.send(text)
	seq := user.acked(text)
	user.waitFor("a label badge on the message",
		fmt.Sprintf(`document.querySelector('#log .msg.user[data-seq="%d"] .meta .label')?.textContent.includes('·')`, seq))
	var label string
	user.mustEval(fmt.Sprintf(`document.querySelector('#log .msg.user[data-seq="%d"] .label').textContent`, seq), &label)
	known := false
	for _, k := range []string{"무감정", "슬픔", "기쁨", "분노"} {
		known = known || strings.HasPrefix(label, k)
	}
	if !known {
		t.Errorf("label %q is not one of the four Korean class names", label)
	}
	user.noDialogsOrExceptions()
}

// TestBrowserRateLimitedMessage checks that a refused message is marked as
// not sent, with the reason and a retry button, and that retrying reuses
// the same bubble.
func TestBrowserRateLimitedMessage(t *testing.T) {
	needChromium(t)
	base := startGateway(t, func(c *gateway.Config) {
		c.MessageBurst = 1
		c.MessageRate = 0.001 // one message, then nothing for a long while
	})
	browser := newBrowser(t)
	user := chat{newTab(t, browser, "chat", 390, 844, true)}
	user.open(base)
	first := "첫 번째 메시지"
	user.send(first)
	user.acked(first)
	second := "두 번째 메시지"
	user.send(second)
	failed := `[...document.querySelectorAll('#pending .msg.user.failed')].filter(b => b.querySelector('.text').textContent === ` + js(second) + `)`
	marked := failed + `.length === 1 && ` + failed + `[0].querySelector('button.retry:not(.ghost)') && ` + failed + `[0].textContent.includes('천천히')`
	user.waitFor("the refusal of the second message", marked+` || (`+shown("banner")+` && document.getElementById('banner').textContent.includes('천천히'))`)
	var ok bool
	user.mustEval(marked, &ok)
	if !ok {
		t.Fatal("the rate_limited error frame carries no id, so the page cannot tell which message was refused (protocol: error.id is the client id when known)")
	}
	// Mark the current status line: a retry re-renders it.
	user.mustEval(`(() => { const s = `+failed+`[0].querySelector('.status'); s.dataset.old = '1'; return true; })()`, &ok)
	user.do(chromedp.Click(chromedp.CSS(`#pending .msg.user.failed button.retry:not(.ghost)`)))
	user.waitFor("the retried message refused again in the same bubble",
		failed+`.length === 1 && !`+failed+`[0].querySelector('[data-old]') && document.querySelectorAll('#pending .msg.user, #log .msg.user').length === 2`)
	if n := user.count("#log .msg.user"); n != 1 {
		t.Errorf("%d acknowledged user messages, want 1", n)
	}
	user.noDialogsOrExceptions()
}

// TestBrowserOperatorRejectsBadToken checks that a wrong token keeps the
// dashboard closed and is not kept in the tab.
func TestBrowserOperatorRejectsBadToken(t *testing.T) {
	needChromium(t)
	base := startGateway(t, nil)
	browser := newBrowser(t)
	op := dashboard{newTab(t, browser, "operator", 1280, 800, false)}
	op.do(
		chromedp.Navigate(base+"/operator"),
		chromedp.SendKeys(chromedp.CSS("#token"), "not-the-right-token-000"),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
	)
	op.waitFor("the sign-in error", `document.getElementById('signin-error').textContent.includes('올바르지')`)
	var state struct {
		AppHidden bool
		Stored    *string
		URL       string
	}
	op.mustEval(`({AppHidden: !`+shown("app")+`, Stored: sessionStorage.getItem('moodgate.operator.token'), URL: location.href})`, &state)
	if !state.AppHidden || state.Stored != nil {
		t.Errorf("after a bad token: app hidden %v, stored token %v", state.AppHidden, state.Stored)
	}
	if strings.Contains(state.URL, "token") {
		t.Errorf("token in the URL: %s", state.URL)
	}
	op.noDialogsOrExceptions()
}

// TestBrowserClaimConflict checks that the dashboard says so when another
// operator holds the session, and keeps the reply box locked.
func TestBrowserClaimConflict(t *testing.T) {
	needChromium(t)
	const leeToken = "lee-token-0123456789"
	base := startGateway(t, func(c *gateway.Config) { c.OperatorTokens[leeToken] = "lee" })
	browser := newBrowser(t)
	user := chat{newTab(t, browser, "chat", 390, 844, true)}
	op := dashboard{newTab(t, browser, "operator", 1280, 860, false)}
	op.signIn(base)
	user.open(base)
	text := "상담사와 이야기하고 싶어요"
	user.send(text)
	user.acked(text)
	sid := user.sessionID()

	// The other operator claims first, through the API.
	req, err := http.NewRequest(http.MethodPost, base+"/api/operator/sessions/"+sid+"/claim", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+leeToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lee's claim: %s", resp.Status)
	}
	user.waitFor("the operator-joined notice naming lee", `[...document.querySelectorAll('#log .notice[data-kind=operator-claimed]')].some(n => n.textContent.includes('lee'))`)

	op.waitFor("the session in the list", `document.querySelector('#sessions .srow[data-id=`+js(sid)+`]')`)
	op.do(chromedp.Click(chromedp.CSS(`#sessions .srow[data-id="` + sid + `"]`)))
	op.waitFor("the session claimed by lee", `document.getElementById('d-state').dataset.state === 'claimed' && document.getElementById('d-meta').textContent.includes('lee')`)
	op.do(chromedp.Click(chromedp.CSS("#btn-claim")))
	op.waitFor("the conflict message", `document.getElementById('d-error').textContent.includes('다른 상담사')`)
	var locked bool
	op.mustEval(`document.getElementById('reply-input').disabled && document.getElementById('reply-send').disabled`, &locked)
	if !locked {
		t.Error("the reply box is open although lee holds the session")
	}
	user.noDialogsOrExceptions()
	op.noDialogsOrExceptions()
}

// TestBrowserBackoff checks the reconnect delays in the browser itself:
// exponential from 0.5 s, never above the 15 s cap, with jitter.
func TestBrowserBackoff(t *testing.T) {
	needChromium(t)
	base := startGateway(t, nil)
	browser := newBrowser(t)
	page := newTab(t, browser, "chat", 390, 844, true)
	page.do(chromedp.Navigate(base + "/"))
	var res struct {
		Bad      []string
		Distinct int
		Max      float64
	}
	ctx, cancel := context.WithTimeout(page.ctx, waitTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`import('/static/common.js').then((m) => {
		const bad = [];
		let max = 0;
		const seen = new Set();
		for (let n = 0; n <= 30; n++) {
			const exp = Math.min(15000, 500 * 2 ** n);
			for (let i = 0; i < 200; i++) {
				const d = m.backoffDelay(n);
				if (!(d >= exp / 2 && d <= exp)) bad.push(n + ':' + d);
				max = Math.max(max, d);
				if (n === 3) seen.add(Math.round(d));
			}
		}
		return JSON.stringify({Bad: bad.slice(0, 5), Distinct: seen.size, Max: max});
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Bad) > 0 {
		t.Errorf("delays outside [exp/2, exp]: %v", res.Bad)
	}
	if res.Max > 15000 || res.Max < 7500 {
		t.Errorf("largest delay %.0f ms, want within the 15 s cap and reaching its upper half", res.Max)
	}
	if res.Distinct < 20 {
		t.Errorf("only %d distinct delays out of 200 for attempt 3: no jitter", res.Distinct)
	}
}

// TestBrowserStreamingReply checks that reply.delta pieces grow one pending
// bubble, which the final reply replaces. The bot is Ollama's chat API,
// played by the ollamatest fake (no model runs here), through the real
// streaming responder.
func TestBrowserStreamingReply(t *testing.T) {
	needChromium(t)
	chunks := []string{"천천히 ", "말씀해 ", "주셔도 ", "괜찮아요."}
	fake := ollamatest.New("gemma2:2b")
	t.Cleanup(fake.Close)
	fake.OnChat(func(*api.ChatRequest) ollamatest.Reply {
		return ollamatest.Reply{Chunks: chunks, ChunkDelay: 40 * time.Millisecond}
	})
	client, err := ollama.New(ollama.Options{Hosts: []string{fake.URL}})
	if err != nil {
		t.Fatal(err)
	}
	responder, err := client.NewResponder(ollama.ResponderConfig{Model: "gemma2:2b"})
	if err != nil {
		t.Fatal(err)
	}
	base := startGatewayWith(t, nil, gateway.Deps{Responder: responder})
	browser := newBrowser(t)
	user := chat{newTab(t, browser, "chat", 390, 844, true)}
	user.open(base)
	// Test instrumentation: record the text of every streaming bubble each
	// time the pending area changes.
	var ok bool
	user.mustEval(`(() => { window.__streamed = [];
		new MutationObserver(() => { for (const b of document.querySelectorAll('#pending .msg.streaming .text')) window.__streamed.push(b.textContent); })
			.observe(document.getElementById('pending'), {childList: true, subtree: true, characterData: true});
		return true; })()`, &ok)
	text := "오늘 하루가 너무 길었어요"
	user.send(text)
	seq := user.acked(text)
	user.botAnswered(seq)
	want := strings.Join(chunks, "")
	var got struct {
		Seen  []string
		Final []string
		Left  int
	}
	user.mustEval(`({Seen: window.__streamed, Left: document.querySelectorAll('.msg.streaming').length,
		Final: [...document.querySelectorAll('#log .msg.bot .text')].map(p => p.textContent)})`, &got)
	if len(got.Final) != 1 || got.Final[0] != want {
		t.Fatalf("final bot replies %q, want exactly [%q]", got.Final, want)
	}
	if got.Left != 0 {
		t.Errorf("%d streaming bubbles left after the final reply", got.Left)
	}
	distinct := map[string]bool{}
	for _, s := range got.Seen {
		if s != "" && !strings.HasPrefix(want, s) {
			t.Errorf("streamed text %q is not a prefix of the reply %q", s, want)
		}
		distinct[s] = true
	}
	if len(distinct) < 2 {
		t.Errorf("the pending bubble showed %q: want the reply growing piece by piece", got.Seen)
	}
	user.noDialogsOrExceptions()
}

// TestBrowserNewChat checks that "new chat" (after its confirm dialog)
// starts a new session with an empty transcript, and that the old one does
// not come back on reload.
func TestBrowserNewChat(t *testing.T) {
	needChromium(t)
	base := startGateway(t, nil)
	browser := newBrowser(t)
	user := chat{newTab(t, browser, "chat", 390, 844, true)}
	user.open(base)
	text := "첫 대화예요"
	user.send(text)
	user.botAnswered(user.acked(text))
	first := user.sessionID()

	user.do(chromedp.Click(chromedp.CSS("#new-chat")))
	user.waitFor("the confirm dialog", `document.getElementById('confirm').open`)
	user.do(chromedp.Click(chromedp.CSS(`#confirm [data-role=ok]`)))
	user.waitFor("a new session", `(JSON.parse(localStorage.getItem('moodgate.chat') || '{}').session || '') !== `+js(first)+
		` && (JSON.parse(localStorage.getItem('moodgate.chat') || '{}').session || '') !== '' && document.body.dataset.conn === 'online'`)
	if n := user.count("#log > *"); n != 0 {
		t.Errorf("%d entries in the new transcript, want none", n)
	}
	second := "새 대화예요"
	user.send(second)
	user.acked(second)
	user.do(chromedp.Reload())
	user.waitOnline()
	user.acked(second)
	var old int
	user.mustEval(`[...document.querySelectorAll('#log .msg.user .text')].filter(p => p.textContent === `+js(text)+`).length`, &old)
	if old != 0 {
		t.Errorf("the first conversation's message is back after reload")
	}
	if id := user.sessionID(); id == first {
		t.Errorf("session %s resumed after new chat", id)
	}
	user.noDialogsOrExceptions()
}

// TestBrowserRefusedSessionStartsOver checks that a stored session the
// server refuses (a token it did not sign: HTTP 403 before the upgrade)
// does not leave the page retrying for ever: once the server is known to
// be up, the page starts a new conversation.
func TestBrowserRefusedSessionStartsOver(t *testing.T) {
	needChromium(t)
	base := startGateway(t, nil)
	browser := newBrowser(t)
	user := chat{newTab(t, browser, "chat", 390, 844, true)}
	user.open(base)
	text := "토큰이 바뀌기 전 메시지"
	user.send(text)
	user.acked(text)
	old := user.sessionID()
	var ok bool
	user.mustEval(`(() => { const s = JSON.parse(localStorage.getItem('moodgate.chat'));
		s.token = '0'.repeat(64); localStorage.setItem('moodgate.chat', JSON.stringify(s)); return true; })()`, &ok)
	user.do(chromedp.Reload())
	user.waitFor("a new session after the refusals",
		`document.body.dataset.conn === 'online' && (JSON.parse(localStorage.getItem('moodgate.chat') || '{}').session || `+js(old)+`) !== `+js(old))
	user.waitFor("the notice about the new conversation", shown("banner")+` && document.getElementById('banner').textContent.includes('새 대화')`)
	if n := user.count("#log > *"); n != 0 {
		t.Errorf("%d entries shown from the refused conversation", n)
	}
	user.noDialogsOrExceptions()
}

// TestBrowserMoodChart checks the SVG geometry of the mood charts drawn by
// the browser: valence +1 at the top of its axis and -1 at the bottom, the
// four stacked probabilities filling the plot when they sum to one, and a
// sparkline with a valence line for every timeline.
func TestBrowserMoodChart(t *testing.T) {
	needChromium(t)
	base := startGateway(t, nil)
	browser := newBrowser(t)
	page := newTab(t, browser, "operator", 1280, 800, false)
	page.do(chromedp.Navigate(base + "/operator"))
	ctx, cancel := context.WithTimeout(page.ctx, waitTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`import('/static/chart.js').then((c) => {
		const pt = (v, s) => ({ts: 0, label: 'neutral', valence: v, scores: s});
		const tl = [pt(1, {neutral: 1, joy: 0, sadness: 0, anger: 0}), pt(-1, {neutral: 0, joy: 0, sadness: 0.5, anger: 0.5}), pt(0, {neutral: 0.25, joy: 0.25, sadness: 0.25, anger: 0.25})];
		const svg = c.moodChart(tl, {width: 600, height: 200});
		document.body.append(svg);
		const plot = [...svg.querySelectorAll('.grid line')].map(l => Number(l.getAttribute('y1')));
		const dots = [...svg.querySelectorAll('circle.valence-dot')].map(d => Number(d.getAttribute('cy')));
		const areas = [...svg.querySelectorAll('path.area')].map(p => p.getBBox());
		const top = Math.min(...areas.map(b => b.y)), bottom = Math.max(...areas.map(b => b.y + b.height));
		const spark = c.sparkline(tl.slice(0, 1));
		const empty = c.moodChart([]);
		return JSON.stringify({
			PlotTop: Math.min(...plot), PlotBottom: Math.max(...plot), Dots: dots,
			AreaTop: top, AreaBottom: bottom, Areas: areas.length,
			SparkValence: !!spark.querySelector('path.valence'), SparkLabel: spark.getAttribute('aria-label'),
			EmptyText: empty.textContent,
		});
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		PlotTop, PlotBottom, AreaTop, AreaBottom float64
		Dots                                     []float64
		Areas                                    int
		SparkValence                             bool
		SparkLabel, EmptyText                    string
	}
	if err := json.Unmarshal([]byte(raw), &g); err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return a-b < 0.6 && b-a < 0.6 }
	mid := (g.PlotTop + g.PlotBottom) / 2
	if len(g.Dots) != 3 || !near(g.Dots[0], g.PlotTop) || !near(g.Dots[1], g.PlotBottom) || !near(g.Dots[2], mid) {
		t.Errorf("valence dots at %v, want %.1f (+1), %.1f (-1), %.1f (0)", g.Dots, g.PlotTop, g.PlotBottom, mid)
	}
	if g.Areas != 4 || !near(g.AreaTop, g.PlotTop) || !near(g.AreaBottom, g.PlotBottom) {
		t.Errorf("%d stacked areas spanning %.1f..%.1f, want 4 spanning the plot %.1f..%.1f", g.Areas, g.AreaTop, g.AreaBottom, g.PlotTop, g.PlotBottom)
	}
	if !g.SparkValence || !strings.Contains(g.SparkLabel, "1") {
		t.Errorf("one-point sparkline: valence line %v, label %q", g.SparkValence, g.SparkLabel)
	}
	if !strings.Contains(g.EmptyText, "기록이 없어요") {
		t.Errorf("empty chart says %q", g.EmptyText)
	}
}
