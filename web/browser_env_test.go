package web_test

// The environment of the browser tests: a gateway on a real redis-server, a
// TCP proxy that can cut the network, and headless Chromium tabs.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/moodgate/moodgate/gateway"
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
	// Not t.TempDir: Chromium's helper processes can still write to the
	// profile for a moment after the browser exits, so removal is retried.
	profile, err := os.MkdirTemp("", "moodgate-chromium-")
	if err != nil {
		t.Fatal(err)
	}
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
		chromedp.UserDataDir(profile),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser process to exit
		if err := sessiontest.WaitFor(10*time.Second, func() error { return os.RemoveAll(profile) }); err != nil {
			t.Logf("profile %s not removed: %v", profile, err)
		}
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
