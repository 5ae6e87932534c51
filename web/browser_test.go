package web_test

// Real-browser tests: Debian's headless Chromium, driven by chromedp, against
// a gateway that the test starts on a real redis-server. Every check reads
// the DOM and waits by polling; no test sleeps or measures wall-clock time.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/ollama/ollama/api"

	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/ollama"
	"github.com/moodgate/moodgate/ollama/ollamatest"
	"github.com/moodgate/moodgate/session/sessiontest"
)

const (
	chromiumPath  = "/usr/bin/chromium"
	operatorToken = "token-at-least-16-chars"
	operatorName  = "kim"
	waitTimeout   = 30 * time.Second
	xssText       = `<img src=x onerror=alert(1)>`
)

// shown(id) is a JavaScript expression: the element is rendered (not hidden
// by an attribute, by CSS or by an ancestor).
func shown(id string) string {
	return `((e) => !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden')(document.getElementById(` + js(id) + `))`
}

// needChromium skips when Chromium is absent on a developer machine; in CI
// (CI set) a missing browser is a failure.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not installed (apt-get install chromium); set CI=true to make this a failure", chromiumPath)
		}
		t.Fatalf("%s is required in CI: %v", chromiumPath, err)
	}
}

// ---- gateway -------------------------------------------------------------

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startGateway runs a gateway on a fresh redis-server and returns its base
// URL (http://127.0.0.1:port).
func startGateway(t *testing.T, edit func(*gateway.Config)) string {
	t.Helper()
	return startGatewayWith(t, edit, gateway.Deps{})
}

// startGatewayWith is startGateway with some dependencies given (Redis and
// the logger are always the test's).
func startGatewayWith(t *testing.T, edit func(*gateway.Config), deps gateway.Deps) string {
	t.Helper()
	rdb := sessiontest.RealRedis(t).Client(t)
	cfg := gateway.Config{
		OperatorTokens: map[string]string{operatorToken: operatorName},
		Secret:         "0123456789abcdef0123",
		RedisPrefix:    sessiontest.Prefix(t),
		LogLevel:       "warn",
	}
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	deps.Redis, deps.Logger = rdb, logger
	srv, err := gateway.New(ctx, cfg, deps)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Logf("gateway shutdown: %v", err)
		}
		ts.Close()
	})
	return ts.URL
}

// ---- a TCP proxy that can cut the network --------------------------------

// dropProxy forwards TCP connections to a backend. Offline closes every
// connection it carries and refuses new ones, as a lost network does.
type dropProxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	offline bool
	wg      sync.WaitGroup
}

func newDropProxy(t *testing.T, backendURL string) *dropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, backend: strings.TrimPrefix(backendURL, "http://"), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *dropProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *dropProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.offline {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		up, err := net.Dial("tcp", p.backend)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.offline { // went offline while dialling
			p.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

func (p *dropProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// SetOffline cuts every connection and refuses new ones (true), or lets
// connections through again (false).
func (p *dropProxy) SetOffline(off bool) {
	p.mu.Lock()
	p.offline = off
	p.mu.Unlock()
	if off {
		p.cut()
	}
}

// ---- browser -------------------------------------------------------------

// newBrowser starts headless Chromium with exactly the flags CI uses and a
// fresh profile directory.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	needChromium(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return browserCtx
}

// tab is one page in its own browser context (separate storage and cookies),
// with a record of every native dialog and uncaught exception it saw.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu         sync.Mutex
	dialogs    []string
	exceptions []string
}

func newTab(t *testing.T, browserCtx context.Context, name string, width, height int64, mobile bool) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, name: name, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, fmt.Sprintf("%s: %s", d.Type, d.Message))
			tb.mu.Unlock()
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	})
	if err != nil {
		t.Fatalf("%s: listen: %v", name, err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			// Uncaught exceptions and Content-Security-Policy refusals are
			// page bugs; other errors (a refused WebSocket while the test
			// cuts the network) are expected.
			if m.IsException() || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") {
				tb.mu.Lock()
				tb.exceptions = append(tb.exceptions, m.String())
				tb.mu.Unlock()
			}
		}
	}()
	vp := []chromedp.EmulateViewportOption{}
	if mobile {
		vp = append(vp, chromedp.EmulateScale(2), chromedp.EmulateMobile)
	}
	tb.do(chromedp.EmulateViewport(width, height, vp...))
	return tb
}

// do runs actions with a deadline and fails the test on error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v\n%s", tb.name, err, tb.snapshot())
	}
}

// eval evaluates a JavaScript expression and decodes its JSON value into out.
func (tb *tab) eval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](`JSON.stringify((() => (`+expr+`))())`))
	if err != nil {
		return err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("decode %s: %w", raw, err)
	}
	return json.Unmarshal([]byte(s), out)
}

func (tb *tab) mustEval(expr string, out any) {
	tb.t.Helper()
	if err := tb.eval(expr, out); err != nil {
		tb.t.Fatalf("%s: evaluate %s: %v", tb.name, expr, err)
	}
}

func (tb *tab) count(selector string) int {
	tb.t.Helper()
	var n int
	tb.mustEval(`document.querySelectorAll(`+js(selector)+`).length`, &n)
	return n
}

// waitFor polls the expression until it is true; on timeout it fails with
// what the page showed.
func (tb *tab) waitFor(what, expr string) {
	tb.t.Helper()
	var last error
	err := sessiontest.WaitFor(waitTimeout, func() error {
		var ok bool
		if err := tb.eval(`!!(`+expr+`)`, &ok); err != nil {
			last = err
			return err
		}
		if !ok {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil {
		tb.t.Fatalf("%s: waiting for %s: %v (last error %v)\nexpression: %s\n%s", tb.name, what, err, last, expr, tb.snapshot())
	}
}

// snapshot is the visible text of the page, for failure messages.
func (tb *tab) snapshot() string {
	var text string
	if err := tb.eval(`document.body ? document.body.innerText : ''`, &text); err != nil {
		return fmt.Sprintf("(no snapshot: %v)", err)
	}
	if len(text) > 3000 {
		text = text[len(text)-3000:]
	}
	return "---- " + tb.name + " page text ----\n" + text
}

func (tb *tab) noDialogsOrExceptions() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.dialogs) > 0 {
		tb.t.Errorf("%s: native dialogs opened: %q", tb.name, tb.dialogs)
	}
	if n := len(tb.exceptions); n > 0 {
		tb.t.Errorf("%s: %d uncaught exceptions or CSP refusals, the first: %q", tb.name, n, tb.exceptions[:min(n, 3)])
	}
}

// screenshot writes docs/screenshots/<name>.png when MOODGATE_SCREENSHOTS=1.
func (tb *tab) screenshot(name string, full bool) {
	tb.t.Helper()
	if os.Getenv("MOODGATE_SCREENSHOTS") != "1" {
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	var png []byte
	var err error
	if full {
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	} else {
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	}
	if err != nil {
		tb.t.Fatalf("%s: screenshot: %v", tb.name, err)
	}
	path := filepath.Join("..", "docs", "screenshots", name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatalf("write %s: %v", path, err)
	}
	tb.t.Logf("wrote %s", path)
}

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ---- chat page helpers ---------------------------------------------------

type chat struct{ *tab }

func (c chat) open(base string) {
	c.t.Helper()
	c.do(chromedp.Navigate(base + "/"))
	c.waitOnline()
}

func (c chat) waitOnline() {
	c.t.Helper()
	c.waitFor("the chat to be online", `document.body.dataset.conn === 'online'`)
}

// send types text and submits it, and returns nothing: callers wait for what
// they expect.
func (c chat) send(text string) {
	c.t.Helper()
	c.do(
		chromedp.SendKeys(chromedp.CSS("#input"), text),
		chromedp.Click(chromedp.CSS("#send")),
	)
}

// acked waits until the user bubble with exactly this text has a seq and
// returns the seq.
func (c chat) acked(text string) int {
	c.t.Helper()
	expr := `[...document.querySelectorAll('#log .msg.user')].filter(b => b.querySelector('.text').textContent === ` + js(text) + `)`
	c.waitFor("the message "+text+" to be acknowledged", expr+`.length === 1`)
	var seq int
	c.mustEval(`Number(`+expr+`[0].dataset.seq)`, &seq)
	return seq
}

// botAnswered waits for a final bot reply after the user message seq.
func (c chat) botAnswered(after int) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("a bot reply after seq %d", after),
		fmt.Sprintf(`[...document.querySelectorAll('#log .msg.bot')].some(b => Number(b.dataset.seq) > %d && b.querySelector('.text').textContent.trim() !== '')`, after))
}

func (c chat) sessionID() string {
	c.t.Helper()
	var id string
	c.mustEval(`JSON.parse(localStorage.getItem('moodgate.chat') || '{}').session || ''`, &id)
	if id == "" {
		c.t.Fatal("chat: no session id in localStorage")
	}
	return id
}

type bubbleCounts struct {
	User, Bot, Operator, Notices, Unique, MaxSeq int
}

func (c chat) counts() bubbleCounts {
	c.t.Helper()
	var bc bubbleCounts
	c.mustEval(`(() => {
		const all = [...document.querySelectorAll('#log > [data-seq]')];
		return {
			User: document.querySelectorAll('#log .msg.user, #pending .msg.user').length,
			Bot: document.querySelectorAll('#log .msg.bot, #pending .msg.bot').length,
			Operator: document.querySelectorAll('#log .msg.operator').length,
			Notices: document.querySelectorAll('#log .notice').length,
			Unique: new Set(all.map(e => e.dataset.seq)).size,
			MaxSeq: Math.max(0, ...all.map(e => Number(e.dataset.seq))),
		};
	})()`, &bc)
	return bc
}

// ---- operator page helpers -----------------------------------------------

type dashboard struct{ *tab }

func (d dashboard) signIn(base string) {
	d.t.Helper()
	d.do(
		chromedp.Navigate(base+"/operator"),
		chromedp.SendKeys(chromedp.CSS("#token"), operatorToken),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
	)
	d.waitFor("the dashboard after sign-in", shown("app")+` && document.getElementById('me').textContent.includes(`+js(operatorName)+`)`)
	d.waitFor("the live feed", `document.body.dataset.feed === 'online'`)
}

func (d dashboard) transcriptHas(text string, n int) {
	d.t.Helper()
	d.waitFor(fmt.Sprintf("%d transcript entries with text %q", n, text),
		`[...document.querySelectorAll('#d-transcript li.ev .text')].filter(p => p.textContent === `+js(text)+`).length === `+fmt.Sprint(n))
}

// ---- the scenario --------------------------------------------------------

// TestBrowserChatAndOperator walks one conversation through both pages: a
// crisis message escalates, an operator claims, replies and hands back, the
// bot answers again, HTML in a message stays text, the network drops and
// comes back, and a reload shows the transcript once.
func TestBrowserChatAndOperator(t *testing.T) {
	needChromium(t)
	base := startGateway(t, nil)
	userNet := newDropProxy(t, base)
	opNet := newDropProxy(t, base)
	browser := newBrowser(t)
	user := chat{newTab(t, browser, "chat", 390, 844, true)}
	op := dashboard{newTab(t, browser, "operator", 1366, 940, false)}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{}
	step := func(name string, run func(t *testing.T)) {
		steps = append(steps, struct {
			name string
			run  func(t *testing.T)
		}{name, run})
	}

	var sid string
	var lastUserSeq int

	step("operator signs in", func(t *testing.T) {
		op.signIn(opNet.URL())
		op.waitFor("an empty queue", "!"+shown("crisis-alert")+` && !`+shown("signin")+` && document.getElementById('queue-count').textContent === '0'`)
	})

	step("another person chats; the dashboard lists the session live", func(t *testing.T) {
		other := chat{newTab(t, browser, "other chat", 390, 844, true)}
		other.open(base)
		text := "오늘 날씨가 좋아서 산책했어요."
		other.send(text)
		other.botAnswered(other.acked(text))
		otherID := other.sessionID()
		op.waitFor("the other session in the list", `document.querySelector('#sessions .srow[data-id=`+js(otherID)+`]')`)
	})

	step("user chats with the bot", func(t *testing.T) {
		user.open(userNet.URL())
		var crisisShown bool
		user.mustEval(shown("crisis"), &crisisShown)
		if crisisShown {
			t.Fatalf("crisis panel visible before any crisis")
		}
		for _, text := range []string{"안녕하세요. 요즘 잠을 잘 못 자요.", "회사에서 계속 혼나서 너무 속상하고 화가 나요."} {
			user.send(text)
			seq := user.acked(text)
			user.botAnswered(seq)
			lastUserSeq = seq
		}
		sid = user.sessionID()
		if n := user.count("#log .label"); n != 0 {
			t.Errorf("emotion labels shown although show_labels is off: %d", n)
		}
	})

	step("crisis message shows resources to the user", func(t *testing.T) {
		user.send("죽고 싶어요")
		lastUserSeq = user.acked("죽고 싶어요")
		user.waitFor("the crisis panel with 109",
			shown("crisis")+` && document.getElementById('crisis-list').textContent.includes('109')`)
		user.waitFor("a crisis notice in the transcript", `document.querySelector('#log .notice.escalation-crisis')`)
		// Collapsing the panel keeps the numbers on screen.
		user.do(chromedp.Click(chromedp.CSS("#crisis-toggle")))
		user.waitFor("the compact crisis strip with 109",
			shown("crisis")+` && document.getElementById('crisis').classList.contains('compact') && [...document.querySelectorAll('#crisis-list .contact')].some(c => c.textContent.includes('109') && c.getClientRects().length > 0)`)
		user.do(chromedp.Click(chromedp.CSS("#crisis-toggle")))
		user.waitFor("the full crisis panel again", `!document.getElementById('crisis').classList.contains('compact')`)
	})

	step("crisis reaches the operator dashboard", func(t *testing.T) {
		op.waitFor("the red crisis badge with count 1",
			shown("crisis-alert")+` && document.getElementById('crisis-count').textContent === '1'`)
		op.waitFor("the crisis in the queue", `document.querySelector('#queue .qitem.sev-3[data-reason=crisis][data-id=`+js(sid)+`]')`)
		op.waitFor("the session first in the list with a crisis badge",
			`document.querySelector('#sessions .srow')?.dataset.id === `+js(sid)+` && document.querySelector('#sessions .srow .chip.reason-crisis')`)
		op.waitFor("a sparkline for the session", `document.querySelector('#sessions .srow[data-id=`+js(sid)+`] svg.spark .valence')`)
		op.do(chromedp.Click(chromedp.CSS(`#sessions .srow[data-id="` + sid + `"]`)))
		op.transcriptHas("죽고 싶어요", 1)
		op.waitFor("label and scores on the crisis message",
			`(() => { const li = [...document.querySelectorAll('#d-transcript li.ev.user')].find(l => l.querySelector('.text').textContent === '죽고 싶어요');
			  return li && li.querySelector('.label') && li.querySelectorAll('.scores .score').length === 4 && li.querySelector('.label-crisis'); })()`)
		op.waitFor("the mood chart with a valence line over three messages",
			`document.querySelector('#d-chart svg.mood-chart path.valence') && document.querySelectorAll('#d-chart svg.mood-chart circle.valence-dot').length >= 3`)
		op.screenshot("operator", false)
	})

	step("operator claims and replies", func(t *testing.T) {
		op.do(chromedp.Click(chromedp.CSS("#btn-claim")))
		op.waitFor("the claimed state", `document.getElementById('d-state').dataset.state === 'claimed' && document.getElementById('btn-claim').disabled`)
		op.waitFor("the crisis badge to clear once claimed", "!"+shown("crisis-alert"))
		user.waitFor("the operator-joined notice",
			`[...document.querySelectorAll('#log .notice[data-kind=operator-claimed]')].some(n => n.textContent.includes(`+js(operatorName)+`)) && `+shown("agent"))
		reply := "많이 힘드셨겠어요. 저는 상담사 김이에요. 지금 어디에 계세요?"
		op.do(
			chromedp.SendKeys(chromedp.CSS("#reply-input"), reply),
			chromedp.Click(chromedp.CSS("#reply-send")),
		)
		user.waitFor("the operator's reply", `[...document.querySelectorAll('#log .msg.operator .text')].some(p => p.textContent === `+js(reply)+`)`)
		op.transcriptHas(reply, 1)
		user.screenshot("chat", false)
	})

	step("HTML in a message stays text on both pages", func(t *testing.T) {
		user.send(xssText)
		lastUserSeq = user.acked(xssText)
		op.transcriptHas(xssText, 1)
		for _, tb := range []*tab{user.tab, op.tab} {
			if n := tb.count("img"); n != 0 {
				t.Errorf("%s: %d img elements on the page", tb.name, n)
			}
		}
	})

	step("operator hands back and the bot answers again", func(t *testing.T) {
		op.do(chromedp.Click(chromedp.CSS("#btn-resolve")))
		op.waitFor("the bot state", `document.getElementById('d-state').dataset.state === 'bot'`)
		user.waitFor("the bot-is-back notice", `document.querySelector('#log .notice[data-kind=operator-resolved]') && !`+shown("agent"))
		text := "고마워요. 이야기하니까 조금 나아졌어요."
		user.send(text)
		seq := user.acked(text)
		user.botAnswered(seq)
		lastUserSeq = seq
		op.transcriptHas(text, 1)
	})

	step("user's network drops; a message typed offline is sent once after reconnect", func(t *testing.T) {
		userNet.SetOffline(true)
		user.waitFor("the offline state", `document.body.dataset.conn === 'offline'`)
		text := "연결이 끊겼을 때 쓴 메시지예요."
		user.send(text)
		user.waitFor("the queued bubble", `[...document.querySelectorAll('#pending .msg.user.queued .text')].some(p => p.textContent === `+js(text)+`)`)
		userNet.SetOffline(false)
		user.waitOnline()
		seq := user.acked(text)
		user.botAnswered(seq)
		lastUserSeq = seq
		op.transcriptHas(text, 1)
	})

	step("operator's feed drops; missed events arrive once after reconnect", func(t *testing.T) {
		opNet.SetOffline(true)
		op.waitFor("the feed offline", `document.body.dataset.feed === 'offline'`)
		text := "상담사 화면이 끊긴 동안 보낸 메시지"
		user.send(text)
		seq := user.acked(text)
		user.botAnswered(seq)
		lastUserSeq = seq
		opNet.SetOffline(false)
		op.waitFor("the feed online", `document.body.dataset.feed === 'online'`)
		op.transcriptHas(text, 1)
		var dup int
		op.mustEval(`(() => { const s = [...document.querySelectorAll('#d-transcript li.ev')].map(l => l.dataset.seq); return s.length - new Set(s).size; })()`, &dup)
		if dup != 0 {
			t.Errorf("operator transcript has %d duplicated seqs", dup)
		}
	})

	step("reload resumes without duplicates", func(t *testing.T) {
		before := user.counts()
		if before.Unique == 0 || before.User < 6 || before.Operator != 1 {
			t.Fatalf("unexpected transcript before reload: %+v", before)
		}
		user.do(chromedp.Reload())
		user.waitOnline()
		user.waitFor("the transcript replayed up to the last seq",
			fmt.Sprintf(`document.querySelector('#log > [data-seq="%d"]')`, before.MaxSeq))
		after := user.counts()
		if after != before {
			t.Fatalf("transcript changed across reload:\nbefore %+v\nafter  %+v", before, after)
		}
		var pending int
		user.mustEval(`document.querySelectorAll('#pending > *').length`, &pending)
		if pending != 0 {
			t.Errorf("%d pending bubbles after reload", pending)
		}
		user.waitFor("the crisis panel after reload", shown("crisis")+` && document.getElementById('crisis-list').textContent.includes('109')`)
		user.waitFor("the literal HTML text after reload", `[...document.querySelectorAll('#log .msg.user .text')].some(p => p.textContent === `+js(xssText)+`)`)
		if n := user.count("img"); n != 0 {
			t.Errorf("chat: %d img elements after reload", n)
		}
	})

	step("operator erases the session after confirming", func(t *testing.T) {
		op.do(chromedp.Click(chromedp.CSS("#btn-erase")))
		op.waitFor("the confirm dialog", `document.getElementById('confirm').open`)
		op.do(chromedp.Click(chromedp.CSS(`#confirm [data-role=ok]`)))
		op.waitFor("the session gone from the list and the detail closed",
			`!document.querySelector('#sessions .srow[data-id=`+js(sid)+`]') && `+shown("detail-empty")+` && document.querySelectorAll('#sessions .srow').length === 1`)
	})

	step("no dialogs and no exceptions on either page", func(t *testing.T) {
		user.noDialogsOrExceptions()
		op.noDialogsOrExceptions()
	})

	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			user.t, op.t = t, t // helpers fail the step, not the parent
			s.run(t)
		})
		user.t, op.t = t, t
		if !ok {
			t.Logf("last user seq %d; stopping after failed step", lastUserSeq)
			return
		}
	}
}

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
