package gateway_test

import (
	"bufio"
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
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/ollama/ollama/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/ollama"
	"github.com/moodgate/moodgate/ollama/ollamatest"
	"github.com/moodgate/moodgate/session"
	"github.com/moodgate/moodgate/session/sessiontest"
)

// This file proves what the gateway survives: Ollama failing in every way it
// can, Redis killed and restarted, a gateway process killed with SIGKILL,
// clients that stop reading, and a shutdown under load. docs/reliability.md
// lists each fault with the test that shows it.

// scrape reads one series of the node's /metrics ("name{labels}" exactly as
// Prometheus writes it); an absent series is 0.
func scrape(t testing.TB, n *node, series string) float64 {
	t.Helper()
	resp, err := http.Get(n.http.URL + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", series, v)
			}
			return f
		}
	}
	return 0
}

// readyz returns the status code of GET /readyz.
func readyz(n *node) int {
	resp, err := http.Get(n.http.URL + "/readyz")
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// notice returns the reply frame's notice field.
func notice(f frame) string {
	var v struct {
		Notice string `json:"notice"`
	}
	json.Unmarshal([]byte(f.raw), &v)
	return v.Notice
}

// history resumes session sid from seq 0 on n and returns every stored event.
func history(t testing.TB, n *node, sid, token string) []frame {
	t.Helper()
	c, w := connect(t, n, sid, token, 0)
	defer c.ws.Close()
	out := make([]frame, 0, w.Seq)
	for int64(len(out)) < w.Seq {
		if f := c.next(); f.Seq > 0 {
			out = append(out, f)
		}
	}
	return out
}

// checkHistory asserts that the stored events are seqs 1..N without gaps or
// repeats, that each id in ids was acknowledged exactly once, and that each
// acknowledged message was labelled exactly once.
func checkHistory(t testing.TB, evs []frame, ids ...string) {
	t.Helper()
	acks := map[string]int{}
	labels := map[int64]int{}
	var ackSeqs []int64
	for i, f := range evs {
		if f.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: %s", i+1, f.Seq, f.raw)
		}
		switch f.Type {
		case "ack":
			acks[f.ID]++
			ackSeqs = append(ackSeqs, f.Seq)
		case "emotion":
			labels[f.Ref]++
			if _, err := emotion.ParseLabel(f.Label); err != nil {
				t.Fatalf("label %q: %s", f.Label, f.raw)
			}
		}
	}
	for _, id := range ids {
		if acks[id] != 1 {
			t.Fatalf("message %s stored %d times (%v)", id, acks[id], acks)
		}
	}
	for _, s := range ackSeqs {
		if labels[s] != 1 {
			t.Fatalf("message seq %d labelled %d times", s, labels[s])
		}
	}
}

// ---------------------------------------------------------------------------
// Ollama faults

// ollamaNode is a gateway whose classifier is the Ollama classifier inside an
// emotion.Chain with small breaker settings and whose responder is the
// Ollama responder, both on one client for host, as cmd/moodgate wires them.
func ollamaNode(t *testing.T, host string, chatTimeout time.Duration) (*node, *emotion.Chain) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	cli, err := ollama.New(ollama.Options{Hosts: []string{host}, Cooldown: 20 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cls, err := cli.NewClassifier(ollama.ClassifierConfig{Model: "moodgate-emotion"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.NewResponder(ollama.ResponderConfig{Model: "gemma2:2b", Timeout: chatTimeout})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	chain := emotion.NewChain(cls, emotion.Embedded(), emotion.ChainOptions{
		Timeout: 250 * time.Millisecond, BreakerFailures: 2, BreakerOpen: time.Second,
		Registerer: reg, Logger: quiet})
	cfg := testConfig(t, func(c *gateway.Config) { c.ChatTimeout = chatTimeout })
	n := startNode(t, sessiontest.Miniredis(t), cfg,
		gateway.Deps{Classifier: chain, Responder: resp, Registry: reg, Logger: quiet})
	return n, chain
}

var ollamaModels = []string{"moodgate-emotion", "gemma2:2b"}

// classifySource asks POST /api/classify and returns the label's source.
func classifySource(n *node, text string) (string, error) {
	body, _ := json.Marshal(map[string]string{"text": text})
	resp, err := http.Post(n.http.URL+"/api/classify", "application/json", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		Label  string `json:"label"`
		Source string `json:"source"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", err
	}
	if _, err := emotion.ParseLabel(r.Label); err != nil {
		return "", fmt.Errorf("label %q", r.Label)
	}
	return r.Source, nil
}

// TestReliabOllamaFaults breaks the fake Ollama in each way the real one can
// fail. While it is broken every message is still acknowledged, labelled by
// the embedded classifier and answered by the built-in responder with the
// notice "degraded"; the breaker opens. Once Ollama is healthy again the
// breaker closes and Ollama labels and answers again.
func TestReliabOllamaFaults(t *testing.T) {
	faults := []struct {
		name     string
		generate ollamatest.Reply
		chat     ollamatest.Reply
	}{
		{name: "unreachable"},
		{name: "hang", generate: ollamatest.Reply{Hang: true}, chat: ollamatest.Reply{Chunks: []string{"생각 "}, Hang: true}},
		{name: "status 500", generate: ollamatest.Reply{Status: 500, Error: "llama runner process has terminated"},
			chat: ollamatest.Reply{Status: 500, Error: "llama runner process has terminated"}},
		{name: "malformed NDJSON", generate: ollamatest.Reply{Malformed: true},
			chat: ollamatest.Reply{Chunks: []string{"그렇군요 "}, Malformed: true}},
		{name: "cut-off stream", generate: ollamatest.Reply{Truncate: true},
			chat: ollamatest.Reply{Chunks: []string{"음 "}, Truncate: true}},
	}
	for _, fault := range faults {
		t.Run(fault.name, func(t *testing.T) {
			t.Parallel()
			var fake *ollamatest.Server
			host := ""
			if fault.name == "unreachable" {
				host = fmt.Sprintf("127.0.0.1:%d", sessiontest.FreePort(t))
			} else {
				fake = ollamatest.New(ollamaModels...)
				t.Cleanup(fake.Close)
				host = fake.URL
				fake.OnGenerate(func(*api.GenerateRequest) ollamatest.Reply { return fault.generate })
				fake.OnChat(func(*api.ChatRequest) ollamatest.Reply { return fault.chat })
			}
			n, chain := ollamaNode(t, host, 700*time.Millisecond)
			c, _ := connect(t, n, "", "", 0)
			openMetric := `moodgate_emotion_fallbacks_total{reason="breaker_open"}`
			for i := 0; scrape(t, n, openMetric) == 0; i++ {
				if i == 8 {
					t.Fatalf("breaker never opened after %d failing messages (state %s)", i, chain.BreakerState())
				}
				c.say(fmt.Sprint("m", i), "오늘 하루가 너무 길었어요")
				fs := c.expect("ack", "emotion")
				if fs[1].Source != "embedded" || fs[1].Ref != fs[0].Seq {
					t.Fatalf("emotion while Ollama is down: %s", fs[1].raw)
				}
				// An HTTP classification right after: the embedded model
				// answers it too (at once, when the breaker is open).
				if src, err := classifySource(n, "그냥 그래요"); err != nil || src != "embedded" {
					t.Fatalf("classify while Ollama is down: %s %v", src, err)
				}
				if r := c.until("reply"); r.From != "bot" || notice(r) != session.FallbackNotice || r.Text == "" || r.Ref != fs[0].Seq {
					t.Fatalf("reply while Ollama is down: %s", r.raw)
				}
			}

			// Heal Ollama: the half-open breaker lets a trial through and closes.
			if fake == nil {
				var err error
				if fake, err = ollamatest.Listen(host, ollamaModels...); err != nil {
					t.Fatalf("listen on %s: %v", host, err)
				}
				t.Cleanup(fake.Close)
			} else {
				fake.OnGenerate(ollamatest.KeywordReply)
				fake.OnChat(ollamatest.EchoChat)
			}
			if err := sessiontest.WaitFor(10*time.Second, func() error {
				src, err := classifySource(n, "친구 덕분에 행복해요")
				if err == nil && src != "ollama" {
					err = fmt.Errorf("source %s, breaker %s", src, chain.BreakerState())
				}
				return err
			}); err != nil {
				t.Fatalf("Ollama never answered again: %v", err)
			}
			if st := chain.BreakerState(); st != gobreaker.StateClosed {
				t.Fatalf("breaker %s after recovery", st)
			}
			c.say("healed", "친구 덕분에 행복해요")
			fs := c.expect("ack", "emotion", "reply")
			if fs[1].Source != "ollama" || fs[1].Label != "joy" {
				t.Fatalf("emotion after recovery: %s", fs[1].raw)
			}
			if notice(fs[2]) != "" || !strings.Contains(fs[2].Text, "가짜 Ollama") {
				t.Fatalf("reply after recovery: %s", fs[2].raw)
			}
		})
	}
}

// TestReliabOllamaHangBlocksNoSession shows that one session's generation
// hanging on Ollama does not hold up another session's messages: the second
// session is acknowledged and labelled while the first one's reply is still
// being generated.
func TestReliabOllamaHangBlocksNoSession(t *testing.T) {
	fake := ollamatest.New(ollamaModels...)
	t.Cleanup(fake.Close)
	release := make(chan struct{})
	fake.OnChat(func(req *api.ChatRequest) ollamatest.Reply {
		if strings.Contains(req.Messages[len(req.Messages)-1].Content, "첫 번째") {
			<-release // hold the first session's generation until the test lets go
		}
		return ollamatest.EchoChat(req)
	})
	n, _ := ollamaNode(t, fake.URL, 30*time.Second)
	a, _ := connect(t, n, "", "", 0)
	b, _ := connect(t, n, "", "", 0)
	a.say("a1", "첫 번째 세션의 말이에요")
	a.expect("ack", "emotion")
	if err := sessiontest.WaitFor(5*time.Second, func() error {
		if len(fake.ChatRequests()) == 0 {
			return errors.New("no chat request yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b.say("b1", "두 번째 세션이에요. 오늘 좋아요")
	fs := b.expect("ack", "emotion")
	if fs[0].ID != "b1" {
		t.Fatalf("second session: %s", fs[0].raw)
	}
	close(release)
	if r := a.until("reply"); r.Ref != 1 || notice(r) != "" || !strings.Contains(r.Text, "가짜 Ollama") {
		t.Fatalf("first session's reply: %s", r.raw)
	}
	if r := b.until("reply"); r.Ref != 1 || notice(r) != "" {
		t.Fatalf("second session's reply: %s", r.raw)
	}
}

// ---------------------------------------------------------------------------
// Redis killed

// TestReliabRedisKilled kills redis-server mid-conversation and restarts it
// from its AOF. The message sent while it is down gets a retryable
// store_unavailable error and no ack; /readyz goes 503 and back to 200; the
// socket survives; every acknowledged message is still there after the
// restart, and the client resumes with its token and last_seq.
func TestReliabRedisKilled(t *testing.T) {
	rs := sessiontest.RealRedis(t)
	n := startNode(t, rs.Client(t), testConfig(t), lexiconDeps())
	c, w := connect(t, n, "", "", 0)
	talk := func(id, text string) []frame {
		t.Helper()
		c.say(id, text)
		fs := c.expect("ack", "emotion", "reply")
		if fs[0].ID != id {
			t.Fatalf("ack %s, want id %s", fs[0].raw, id)
		}
		return fs
	}
	talk("m1", "오늘 친구를 만나서 좋아요")
	talk("m2", "그런데 조금 슬프기도 해요")
	if code := readyz(n); code != http.StatusOK {
		t.Fatalf("readyz before the kill: %d", code)
	}
	op, _ := connectOperator(t, n, testOpToken, "")

	rs.Kill()
	c.say("m3", "레디스가 없는 동안 보낸 말")
	f := c.next()
	if f.Type != "error" || f.Code != gateway.CodeStoreUnavailable || !f.Retryable || f.ID != "m3" {
		t.Fatalf("message while Redis is down: %s", f.raw)
	}
	if err := sessiontest.WaitFor(10*time.Second, func() error {
		if code := readyz(n); code != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz %d", code)
		}
		return nil
	}); err != nil {
		t.Fatalf("readyz with Redis down: %v", err)
	}
	// While Redis is down: a resume is refused with 503 before the upgrade,
	// a new session gets a retryable error and close 1013 (try again
	// later), and the operator API answers 503; all say "retry".
	if _, resp, err := dial(t, n.wsURL("/ws?session="+w.SessionID+"&token="+w.Token+"&last_seq=6"), nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("resume while Redis is down: %v %v", err, resp)
	}
	fresh, _ := connect(t, n, "", "", 0)
	if f := fresh.next(); f.Type != "error" || f.Code != gateway.CodeStoreUnavailable || !f.Retryable {
		t.Fatalf("new session while Redis is down: %s", f.raw)
	}
	if ce := closeOf(t, fresh); ce.Code != websocket.CloseTryAgainLater {
		t.Fatalf("new session while Redis is down closed with %d", ce.Code)
	}
	for _, path := range []string{"/api/operator/sessions", "/api/operator/queue", "/api/operator/sessions/" + w.SessionID} {
		if resp, _ := opRequest(t, n, "GET", path, testOpToken, ""); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%s while Redis is down: %d", path, resp.StatusCode)
		}
	}

	rs.Restart(t)
	if err := sessiontest.WaitFor(15*time.Second, func() error {
		if code := readyz(n); code != http.StatusOK {
			return fmt.Errorf("readyz %d", code)
		}
		return nil
	}); err != nil {
		t.Fatalf("readyz after the restart: %v", err)
	}
	// The same socket carries on; the refused message was not stored, so
	// the client's resend is stored now, right after m2's events.
	if fs := talk("m3", "레디스가 없는 동안 보낸 말"); fs[0].Seq != 7 {
		t.Fatalf("resent message stored at seq %d, want 7", fs[0].Seq)
	}
	// The dashboard connected through the outage: the feed reader found
	// Redis again and the new events reach it, nothing earlier twice.
	if sid, ev := op.event(); sid != w.SessionID || ev.Seq != 7 || ev.ID != "m3" {
		t.Fatalf("dashboard after the restart: %s %s", sid, ev.raw)
	}
	c.ws.Close()

	// The client resumes from the seq it had seen before the outage.
	c2, w2 := connect(t, n, w.SessionID, w.Token, 6)
	if !w2.Resumed || w2.Seq != 9 {
		t.Fatalf("resume welcome %s", w2.raw)
	}
	for want := int64(7); want <= 9; want++ {
		if f := c2.next(); f.Seq != want {
			t.Fatalf("resumed seq %d, want %d", f.Seq, want)
		}
	}
	c2.ws.Close()

	// A second crash: everything acknowledged is read back from the AOF.
	rs.Restart(t)
	if err := sessiontest.WaitFor(15*time.Second, func() error {
		if code := readyz(n); code != http.StatusOK {
			return fmt.Errorf("readyz %d", code)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	checkHistory(t, history(t, n, w.SessionID, w.Token), "m1", "m2", "m3")
}

// gatedClassifier holds each classification of a text containing "죽고"
// until the test lets it go; others (the readiness probe's) pass.
type gatedClassifier struct {
	entered chan string
	release chan struct{}
}

func (g gatedClassifier) Classify(ctx context.Context, text string) (emotion.Result, error) {
	if strings.Contains(text, "죽고") {
		g.entered <- text
		<-g.release
	}
	return lexicon{}.Classify(ctx, text)
}

// TestReliabRedisKilledBeforeLabel kills Redis after a crisis message was
// stored and acknowledged but before its label and escalation were: the
// user gets a retryable store_unavailable error naming the message. Once
// Redis is back, resending the same id stores nothing twice and finishes
// the message: the emotion and the crisis escalation are stored and sent.
func TestReliabRedisKilledBeforeLabel(t *testing.T) {
	rs := sessiontest.RealRedis(t)
	gate := gatedClassifier{entered: make(chan string, 1), release: make(chan struct{})}
	n := startNode(t, rs.Client(t), testConfig(t), gateway.Deps{
		Classifier: emotion.NewChain(nil, gate, emotion.ChainOptions{}), Logger: slog.New(slog.DiscardHandler)})
	c, w := connect(t, n, "", "", 0)
	c.say("sos", "이제 그만 죽고 싶어요")
	if f := c.next(); f.Type != "ack" || f.ID != "sos" || f.Seq != 1 {
		t.Fatalf("ack %s", f.raw)
	}
	<-gate.entered
	rs.Kill()
	gate.release <- struct{}{}
	if f := c.next(); f.Type != "error" || f.Code != gateway.CodeStoreUnavailable || f.ID != "sos" || !f.Retryable {
		t.Fatalf("label failed: %s", f.raw)
	}
	rs.Restart(t)
	if err := sessiontest.WaitFor(15*time.Second, func() error {
		if code := readyz(n); code != http.StatusOK {
			return fmt.Errorf("readyz %d", code)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.say("sos", "이제 그만 죽고 싶어요")
	<-gate.entered
	gate.release <- struct{}{}
	fs := c.expect("emotion", "escalation")
	if fs[0].Ref != 1 || !fs[0].Crisis || fs[1].Reason != "crisis" {
		t.Fatalf("after the resend: %s %s", fs[0].raw, fs[1].raw)
	}
	checkHistory(t, history(t, n, w.SessionID, w.Token), "sos")
	if resp, body := opRequest(t, n, "GET", "/api/operator/queue", testOpToken, ""); resp.StatusCode != 200 || !strings.Contains(fmt.Sprint(body), w.SessionID) {
		t.Fatalf("queue after the resend: %d %v", resp.StatusCode, body)
	}
}

// ---------------------------------------------------------------------------
// A gateway process killed

// TestReliabNodeProcess is not a test: TestReliabNodeKilled runs the test
// binary again with MOODGATE_RELIAB_NODE set, and this function then serves a
// gateway node until the process is killed.
func TestReliabNodeProcess(t *testing.T) {
	if os.Getenv("MOODGATE_RELIAB_NODE") == "" {
		t.Skip("helper process of TestReliabNodeKilled")
	}
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("MOODGATE_RELIAB_REDIS")})
	cfg := testConfig(t, func(c *gateway.Config) { c.RedisPrefix = os.Getenv("MOODGATE_RELIAB_PREFIX") })
	deps := lexiconDeps()
	deps.Redis = rdb
	deps.Logger = slog.New(slog.DiscardHandler)
	srv, err := gateway.New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	t.Fatal(http.Serve(ln, srv.Handler()))
}

// startNodeProcess runs a gateway node in a child process on the given
// Redis and key prefix and returns it with a function that SIGKILLs it.
func startNodeProcess(t *testing.T, redisAddr, prefix string) (*node, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReliabNodeProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MOODGATE_RELIAB_NODE=1", "MOODGATE_RELIAB_REDIS="+redisAddr, "MOODGATE_RELIAB_PREFIX="+prefix)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := sync.OnceFunc(func() {
		cmd.Process.Kill() // SIGKILL: no shutdown, no flush
		cmd.Wait()
	})
	t.Cleanup(kill)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		// Only the URL is used: no httptest server runs here.
		return &node{http: &httptest.Server{URL: "http://" + a}}, kill
	case <-time.After(60 * time.Second):
		t.Fatal("node process did not start")
	}
	return nil, nil
}

// TestReliabNodeKilled runs a gateway node as a real process next to an
// in-process one on the same redis-server, and kills the process with
// SIGKILL while its users are talking: one idle, one with a message in
// flight. Each user resumes on the surviving node with its token and the
// last seq it saw, resends what was not acknowledged, and ends with every
// message stored and labelled exactly once, seqs 1..N without gaps. An
// operator dashboard that followed the dead node's feed resumes on the
// other node from its last offset and misses nothing.
func TestReliabNodeKilled(t *testing.T) {
	rs := sessiontest.RealRedis(t)
	cfg := testConfig(t)
	b := startNode(t, rs.Client(t), cfg, lexiconDeps())
	a, kill := startNodeProcess(t, rs.Addr, cfg.RedisPrefix)

	op, ready := connectOperator(t, a, testOpToken, "")
	if ready.Type != "ready" {
		t.Fatalf("operator on the process node: %s", ready.raw)
	}
	type user struct {
		c    *client
		w    frame
		last int64
		ids  []string
	}
	users := make([]*user, 3)
	for i := range users {
		c, w := connect(t, a, "", "", 0)
		u := &user{c: c, w: w}
		for j := 0; j < 3; j++ {
			id := fmt.Sprintf("u%d-m%d", i, j)
			c.say(id, "오늘 좋아요")
			fs := c.expect("ack", "emotion", "reply")
			u.last, u.ids = fs[2].Seq, append(u.ids, id)
		}
		users[i] = u
	}
	// The operator saw 3 users × 9 events.
	seen := map[string]map[int64]int{}
	readOp := func(o *opClient) {
		sid, ev := o.event()
		if seen[sid] == nil {
			seen[sid] = map[int64]int{}
		}
		seen[sid][ev.Seq]++
	}
	for range 3 * 9 {
		readOp(op)
	}
	// Users 1 and 2 send a message and the node dies without a chance to
	// answer (the message may or may not have been stored).
	for _, u := range users[1:] {
		id := fmt.Sprintf("%s-inflight", u.ids[0][:2])
		u.c.say(id, "보내는 중에 서버가 죽었어요")
		u.ids = append(u.ids, id)
	}
	kill()

	for i, u := range users {
		c, w := connect(t, b, u.w.SessionID, u.w.Token, u.last)
		for seq := u.last + 1; seq <= w.Seq; seq++ {
			if f := c.next(); f.Seq != seq {
				t.Fatalf("user %d replay: seq %d, want %d (%s)", i, f.Seq, seq, f.raw)
			}
		}
		// The chat page resends every message it holds no ack for, with
		// the same id; the store keeps one copy, and a copy the dead node
		// stored but did not label is labelled now. The next message shows
		// the resend was handled: one connection's messages go in order.
		if i > 0 {
			c.say(u.ids[len(u.ids)-1], "보내는 중에 서버가 죽었어요")
			after := u.ids[0][:2] + "-after"
			c.say(after, "다시 연결됐어요")
			u.ids = append(u.ids, after)
			for f := c.next(); f.Type != "ack" || f.ID != after; f = c.next() {
			}
			c.expect("emotion", "reply")
		}
		c.ws.Close()
		checkHistory(t, history(t, b, u.w.SessionID, u.w.Token), u.ids...)
	}

	// The dashboard resumes on the surviving node from its last offset.
	op2, _ := connectOperator(t, b, testOpToken, op.offset)
	total := func() (n int) {
		for _, u := range users {
			st, err := b.srv.Manager().Store.State(context.Background(), u.w.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			n += int(st.Seq)
		}
		return n
	}()
	count := func() (n int) {
		for _, m := range seen {
			n += len(m)
		}
		return n
	}
	for count() < total {
		readOp(op2)
	}
	for sid, m := range seen {
		for seq, k := range m {
			if k != 1 {
				t.Fatalf("operator got %s seq %d %d times", sid, seq, k)
			}
		}
	}
}

// serveBinary is a `moodgate serve` process built from cmd/moodgate.
type serveBinary struct {
	cmd    *exec.Cmd
	n      *node
	stderr *syncBuffer
	exited chan struct{} // closed when the process has exited, with err set
	err    error
}

// buildMoodgate builds cmd/moodgate into the test's temporary directory.
func buildMoodgate(t *testing.T) string {
	t.Helper()
	bin := t.TempDir() + "/moodgate"
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/moodgate/moodgate/cmd/moodgate").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServe runs `moodgate serve` (the binary bin) on a free port against
// redisURL, with env added.
func startServe(t *testing.T, bin, redisURL string, env ...string) *serveBinary {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", sessiontest.FreePort(t))
	s := &serveBinary{stderr: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "-addr", addr)
	s.cmd.Env = append(os.Environ(), append([]string{"REDIS_URL=" + redisURL, "MOODGATE_SECRET=" + testSecret,
		"MOODGATE_OPERATOR_TOKENS=kim:" + testOpToken, "MOODGATE_MESSAGE_RATE=1000", "MOODGATE_MESSAGE_BURST=1000",
		"OLLAMA_HOST="}, env...)...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.exited
	})
	s.n = &node{http: &httptest.Server{URL: "http://" + addr}}
	if err := sessiontest.WaitFor(30*time.Second, func() error {
		resp, err := http.Get(s.n.http.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}); err != nil {
		t.Fatalf("moodgate serve did not start: %v\n%s", err, s.stderr.String())
	}
	return s
}

// TestReliabServeBinary runs the real `moodgate serve` binary on a real
// redis-server: killed with SIGKILL mid-conversation, its user resumes on
// a second process with every acknowledged event; that process, stopped
// with SIGTERM while the user is connected, closes the socket with 1001
// and exits cleanly, and nothing acknowledged is lost.
func TestReliabServeBinary(t *testing.T) {
	rs := sessiontest.RealRedis(t)
	prefix := "MOODGATE_REDIS_PREFIX=" + sessiontest.Prefix(t)
	bin := buildMoodgate(t)
	a := startServe(t, bin, rs.URL(), prefix)
	c, w := connect(t, a.n, "", "", 0)
	var last int64
	for i := 0; i < 3; i++ {
		c.say(fmt.Sprint("m", i), "친구랑 맛있는 거 먹어서 너무 행복해요!")
		last = c.expect("ack", "emotion", "reply")[2].Seq
	}
	c.say("m3", "보내자마자 서버가 죽어요")
	a.cmd.Process.Kill() // SIGKILL
	<-a.exited

	b := startServe(t, bin, rs.URL(), prefix)
	c2, w2 := connect(t, b.n, w.SessionID, w.Token, last)
	for seq := last + 1; seq <= w2.Seq; seq++ {
		if f := c2.next(); f.Seq != seq {
			t.Fatalf("replay seq %d, want %d", f.Seq, seq)
		}
	}
	c2.say("m3", "보내자마자 서버가 죽어요")
	c2.say("m4", "다시 연결돼서 정말 기뻐요!")
	for f := c2.next(); f.Type != "ack" || f.ID != "m4"; f = c2.next() {
	}
	c2.expect("emotion", "reply")

	b.cmd.Process.Signal(syscall.SIGTERM)
	if ce := closeOf(t, c2); ce.Code != websocket.CloseGoingAway {
		t.Fatalf("closed with %d %q on SIGTERM, want 1001", ce.Code, ce.Text)
	}
	<-b.exited
	if b.err != nil {
		t.Fatalf("moodgate serve exited with %v\n%s", b.err, b.stderr.String())
	}
	if !strings.Contains(b.stderr.String(), "stopped") {
		t.Fatalf("no clean stop in the log:\n%s", b.stderr.String())
	}
	// A third process reads everything back.
	d := startServe(t, bin, rs.URL(), prefix)
	checkHistory(t, history(t, d.n, w.SessionID, w.Token), "m0", "m1", "m2", "m3", "m4")
}

// ---------------------------------------------------------------------------
// Slow consumers

// slowDialer opens sockets with a tiny receive buffer, so a client that does
// not read fills up quickly.
var slowDialer = websocket.Dialer{
	HandshakeTimeout: 10 * time.Second,
	NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	},
}

// drain reads ws until it fails and counts the frames, sending the count on
// done.
func drain(ws *websocket.Conn, frames *int64, mu *sync.Mutex) {
	for {
		ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil {
			return
		}
		mu.Lock()
		*frames++
		mu.Unlock()
	}
}

// smallBufListener gives every accepted connection a small send buffer, so
// that a client that does not read fills it (and then its queue) quickly
// instead of after the megabytes of loopback autotuning.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(4096)
	}
	return c, err
}

// startSmallBufNode is startNode with small socket send buffers.
func startSmallBufNode(t *testing.T, rdb redis.UniversalClient, cfg gateway.Config, deps gateway.Deps) *node {
	t.Helper()
	deps.Redis = rdb
	srv, err := gateway.New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener = smallBufListener{hs.Listener}
	hs.Start()
	n := &node{srv: srv, http: hs}
	t.Cleanup(n.stop)
	return n
}

// TestReliabSlowConsumer lets a user socket and an operator feed stop
// reading while an operator posts long messages. Their queues are capped in
// bytes (MOODGATE_SEND_QUEUE_BYTES): each is disconnected as slow_consumer.
// A reading user and a reading dashboard on the same node receive every
// event, and the slow user's session loses nothing: it resumes in full.
func TestReliabSlowConsumer(t *testing.T) {
	n := startSmallBufNode(t, sessiontest.Miniredis(t), testConfig(t, func(c *gateway.Config) { c.SendQueueBytes = 32 << 10 }), lexiconDeps())

	// The slow ones: a user and a dashboard that never read after the start.
	slowUser, w := connect(t, n, "", "", 0)
	slowUser.say("hi", "안녕하세요")
	slowUser.expect("ack", "emotion", "reply")
	slowUser.ws.Close()
	ws, _, err := slowDialer.Dial(n.wsURL("/ws?session="+w.SessionID+"&token="+w.Token+"&last_seq=3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	opWS, _, err := slowDialer.Dial(n.wsURL("/ws/operator"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { opWS.Close() })
	opWS.WriteJSON(map[string]string{"type": "auth", "token": testOpToken})

	// The healthy ones read everything.
	good, _ := connect(t, n, "", "", 0)
	good.say("g", "좋은 하루예요")
	good.expect("ack", "emotion", "reply")
	goodOp, _ := connectOperator(t, n, testOpToken2, "")
	var mu sync.Mutex
	var goodFrames, opFrames int64
	go drain(good.ws, &goodFrames, &mu)
	go drain(goodOp.ws, &opFrames, &mu)

	long := strings.Repeat("천천히 읽어 주세요. ", 150) // ~4.5 KB of UTF-8
	if _, body := opRequest(t, n, "POST", "/api/operator/sessions/"+w.SessionID+"/claim", testOpToken, ""); body["session"] == nil {
		t.Fatalf("claim: %v", body)
	}
	posts := 0
	userSlow := `moodgate_ws_disconnects_total{kind="user",reason="slow_consumer"}`
	opSlow := `moodgate_ws_disconnects_total{kind="operator",reason="slow_consumer"}`
	for scrape(t, n, userSlow) == 0 || scrape(t, n, opSlow) == 0 {
		if posts == 2000 {
			t.Fatalf("no slow consumer disconnect after %d posts", posts)
		}
		if resp, body := opRequest(t, n, "POST", "/api/operator/sessions/"+w.SessionID+"/messages", testOpToken, `{"text":"`+long+`"}`); resp.StatusCode != 200 {
			t.Fatalf("post %d: %d %v", posts, resp.StatusCode, body)
		}
		posts++
	}
	// The healthy user's session goes on, and both healthy sockets get
	// every event: the good user the 3 of its new message, the good
	// dashboard the claim, every post and those 3.
	good.say("g2", "계속 이야기해요")
	if err := sessiontest.WaitFor(20*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if goodFrames < 3 || opFrames < int64(posts+1+3) {
			return fmt.Errorf("good user %d frames, good dashboard %d of %d", goodFrames, opFrames, posts+4)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if u, o := scrape(t, n, userSlow), scrape(t, n, opSlow); u != 1 || o != 1 {
		t.Fatalf("slow consumer disconnects: user %v operator %v", u, o)
	}
	// The server has hung up on the slow sockets: only the healthy user and
	// dashboard are still connected.
	if err := sessiontest.WaitFor(10*time.Second, func() error {
		if v := scrape(t, n, `moodgate_ws_connections{kind="user"}`); v != 1 {
			return fmt.Errorf("%v user connections", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := sessiontest.WaitFor(10*time.Second, func() error {
		if v := scrape(t, n, `moodgate_ws_connections{kind="operator"}`); v != 1 {
			return fmt.Errorf("%v operator connections", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Nothing of the slow user's session was lost.
	evs := history(t, n, w.SessionID, w.Token)
	if len(evs) != 3+1+posts {
		t.Fatalf("slow user's session has %d events, want %d", len(evs), 4+posts)
	}
	checkHistory(t, evs, "hi")
}

// TestReliabLongReplay resumes sessions whose stored history is many times
// MOODGATE_SEND_QUEUE_BYTES from seq 0, as the chat page does after a
// reload, and a dashboard from an offset far behind: the replay waits for
// the client instead of overflowing its queue, and every event arrives.
func TestReliabLongReplay(t *testing.T) {
	rdb := sessiontest.Miniredis(t)
	n := startNode(t, rdb, testConfig(t, func(c *gateway.Config) { c.SendQueueBytes = 16 << 10 }), lexiconDeps())
	op, _ := connectOperator(t, n, testOpToken, "")
	c, w := connect(t, n, "", "", 0)
	c.say("first", "안녕하세요")
	c.expect("ack", "emotion", "reply")
	op.event()
	offset := op.offset
	op.ws.Close()
	long := strings.Repeat("지난 이야기를 다시 봐요. ", 100)
	for i := 0; i < 40; i++ {
		c.say(fmt.Sprint("m", i), long)
		c.expect("ack", "emotion", "reply")
	}
	c.ws.Close()
	evs := history(t, n, w.SessionID, w.Token)
	if len(evs) != 123 {
		t.Fatalf("replayed %d events, want 123", len(evs))
	}
	checkHistory(t, evs, "first", "m0", "m39")
	op2, _ := connectOperator(t, n, testOpToken, offset)
	for want := int64(2); want <= 123; want++ {
		if _, ev := op2.event(); ev.Seq != want {
			t.Fatalf("dashboard catch-up: seq %d, want %d", ev.Seq, want)
		}
	}
	if v := scrape(t, n, `moodgate_ws_disconnects_total{kind="user",reason="slow_consumer"}`); v != 0 {
		t.Fatalf("%v slow consumer disconnects during replay", v)
	}
}

// TestReliabEraseDuringReplay erases a session while a client is still
// receiving its long history. Like a live client of the session, it is
// closed with 1008 session_erased once its replay is through, and cannot
// go on writing into the erased session.
func TestReliabEraseDuringReplay(t *testing.T) {
	n := startSmallBufNode(t, sessiontest.Miniredis(t), testConfig(t, func(c *gateway.Config) { c.SendQueueBytes = 16 << 10 }), lexiconDeps())
	live, w := connect(t, n, "", "", 0)
	long := strings.Repeat("지난 이야기를 다시 봐요. ", 100)
	for i := 0; i < 20; i++ {
		live.say(fmt.Sprint("m", i), long)
		live.expect("ack", "emotion", "reply")
	}
	ws, _, err := slowDialer.Dial(n.wsURL("/ws?session="+w.SessionID+"&token="+w.Token+"&last_seq=0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(deadline())
	for i := 0; i < 2; i++ { // the welcome and the first replayed event: the replay is under way
		if _, _, err := ws.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	if resp, _ := opRequest(t, n, "DELETE", "/api/operator/sessions/"+w.SessionID, testOpToken, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("erase: %d", resp.StatusCode)
	}
	// The live client is closed: the erase went through the feed to every
	// connection of the session on this node.
	if ce := closeOf(t, live); ce.Code != websocket.ClosePolicyViolation || ce.Text != "session_erased" {
		t.Fatalf("live client closed with %d %q", ce.Code, ce.Text)
	}
	var err2 error
	for err2 == nil {
		_, _, err2 = ws.ReadMessage()
	}
	if !isClose(err2, websocket.ClosePolicyViolation) || !strings.Contains(err2.Error(), "session_erased") {
		t.Fatalf("replaying client ended with %v, want 1008 session_erased", err2)
	}
}

// ---------------------------------------------------------------------------
// Shutdown under load

// TestReliabShutdownUnderLoad shuts a node down while clients send as fast
// as they can. Every message acknowledged is in Redis; a message refused
// with shutting_down is retryable and was not stored; the sockets close
// with 1001. Each client then resends, with the same ids, whatever it holds
// no ack for to a second node: in the end every message is stored exactly
// once.
func TestReliabShutdownUnderLoad(t *testing.T) {
	rdb := sessiontest.RealRedis(t).Client(t)
	cfg := testConfig(t, func(c *gateway.Config) { c.ShutdownTimeout = 10 * time.Second })
	a := startNode(t, rdb, cfg, lexiconDeps())
	b := startNode(t, rdb, cfg, lexiconDeps())

	// Each client keeps up to window messages unanswered, like a chat page
	// whose user types fast, and sends until the socket closes.
	const clients, perClient, window = 6, 2000, 4
	type result struct {
		sid, token string
		acked      map[string]bool
		refused    map[string]string
		closeCode  int
		sent       []string
	}
	results := make([]*result, clients)
	var wg sync.WaitGroup
	started := make(chan struct{}, clients)
	for i := range results {
		c, w := connect(t, a, "", "", 0)
		r := &result{sid: w.SessionID, token: w.Token, acked: map[string]bool{}, refused: map[string]string{}}
		results[i] = r
		wg.Add(2)
		slots := make(chan struct{}, window)
		readerDone := make(chan struct{})
		go func() { // writer: sends until the socket fails
			defer wg.Done()
			for j := 0; j < perClient; j++ {
				select {
				case slots <- struct{}{}:
				case <-readerDone:
					return
				}
				id := fmt.Sprintf("c%d-%d", i, j)
				if c.ws.WriteJSON(map[string]string{"type": "message", "id": id, "text": "종료 중에도 보내요 " + id}) != nil {
					return
				}
				r.sent = append(r.sent, id)
			}
		}()
		go func() { // reader: records acks and errors until the close
			defer wg.Done()
			defer close(readerDone)
			answered := func() {
				select {
				case <-slots:
				default:
				}
			}
			first := sync.OnceFunc(func() { started <- struct{}{} })
			defer first() // a client that never got an ack does not hold the test
			for {
				c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, data, err := c.ws.ReadMessage()
				if err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						r.closeCode = ce.Code
					}
					return
				}
				var f frame
				json.Unmarshal(data, &f)
				switch f.Type {
				case "ack":
					r.acked[f.ID] = true
					answered()
					if len(r.acked) == 10 {
						first() // the node is under load: shut it down now
					}
				case "error":
					if f.ID == "" {
						// Every refusal of a message names it, or the
						// client cannot tell what to resend.
						f.ID, f.Code = "(no id)", f.Code+" without the message's id"
					}
					answered()
					r.refused[f.ID] = f.Code
					if !f.Retryable {
						r.refused[f.ID] = f.Code + " (not retryable)"
					}
				}
			}
		}()
	}
	for range clients {
		<-started
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	wg.Wait()

	store := session.NewRedisStore(rdb, session.RedisOptions{Prefix: cfg.RedisPrefix})
	var sent, acked, refused, resent int
	codes := map[string]int{}
	for i, r := range results {
		if r.closeCode != websocket.CloseGoingAway {
			t.Errorf("client %d closed with %d, want 1001", i, r.closeCode)
		}
		raws, err := store.Events(context.Background(), r.sid, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]int{}
		for _, raw := range raws {
			var e session.Event
			json.Unmarshal(raw.JSON, &e)
			if e.Type == session.TypeAck {
				stored[e.ID]++
			}
		}
		for id := range r.acked {
			if stored[id] != 1 {
				t.Fatalf("client %d: acknowledged %s stored %d times", i, id, stored[id])
			}
		}
		for id, code := range r.refused {
			codes[code]++
			switch {
			case code == gateway.CodeShuttingDown || code == gateway.CodeBusy:
				if stored[id] != 0 {
					t.Fatalf("client %d: %s refused with %s but stored", i, id, code)
				}
			default:
				t.Fatalf("client %d: %s refused with %s", i, id, code)
			}
		}
		sent += len(r.sent)
		acked += len(r.acked)
		refused += len(r.refused)
		// Resend everything unacknowledged to the other node.
		c, _ := connect(t, b, r.sid, r.token, int64(len(raws)))
		for _, id := range r.sent {
			if r.acked[id] {
				continue
			}
			resent++
			c.say(id, "종료 중에도 보내요 "+id)
			if f := c.until("ack"); f.ID != id {
				t.Fatalf("resend %s: %s", id, f.raw)
			}
		}
		c.ws.Close()
		final, err := store.Events(context.Background(), r.sid, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, raw := range final {
			var e session.Event
			json.Unmarshal(raw.JSON, &e)
			if e.Type == session.TypeAck {
				count[e.ID]++
			}
		}
		for _, id := range r.sent {
			if count[id] != 1 {
				t.Fatalf("client %d: %s stored %d times after resending", i, id, count[id])
			}
		}
	}
	t.Logf("shutdown under load: %d clients sent %d messages: %d acknowledged, %d refused with an error frame, %d unanswered (never read by the node); %d resent to the other node; 0 lost; refusals %v",
		clients, sent, acked, refused, sent-acked-refused, resent, codes)
	if acked == 0 {
		t.Fatal("no message was acknowledged before the shutdown: the test did not load the node")
	}
}
