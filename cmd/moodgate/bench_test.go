package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make(samples, 100)
	for i := range hundred {
		// Reversed, so summarize must sort.
		hundred[i] = time.Duration(100-i) * time.Millisecond
	}
	got := summarize(hundred)
	want := latencySummary{Count: 100, Mean: 50.5, P50: 50, P90: 90, P99: 99, Max: 100}
	if got != want {
		t.Fatalf("summarize(1..100 ms) = %+v, want %+v", got, want)
	}

	for _, tc := range []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample", []time.Duration{7}, 99, 7},
		{"p0 is the minimum", []time.Duration{1, 2, 3}, 0, 1},
		{"p100 is the maximum", []time.Duration{1, 2, 3}, 100, 3},
		{"nearest rank rounds up", []time.Duration{10, 20, 30, 40}, 50, 20},
		{"just above a rank", []time.Duration{10, 20, 30, 40}, 51, 30},
		{"p99 of ten is the max", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.in, tc.p); got != tc.want {
				t.Fatalf("percentile(%v, %g) = %v, want %v", tc.in, tc.p, got, tc.want)
			}
		})
	}
}

func TestLineGen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		neg, crisis  float64
		wantCrisis   bool
		maxNegInARow int
		wantSomeNeg  bool
	}{
		{"default mix", 0.15, 0, false, 1, true},
		{"all negative still never three in a row", 1, 0, false, 1, true},
		{"crisis share", 0.15, 0.2, true, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newLineGen(42, tc.neg, tc.crisis)
			run, sawNeg, sawCrisis := 0, false, false
			for range 2000 {
				text, kind := g.next()
				if text == "" {
					t.Fatal("empty line")
				}
				switch kind {
				case kindSad, kindAngry:
					run++
					sawNeg = true
				case kindCrisis:
					sawCrisis = true
					run = 0
				default:
					run = 0
				}
				if tc.maxNegInARow > 0 && run > tc.maxNegInARow {
					t.Fatalf("%d sad/angry lines in a row", run)
				}
			}
			if sawCrisis != tc.wantCrisis {
				t.Fatalf("crisis lines seen = %v, want %v", sawCrisis, tc.wantCrisis)
			}
			if sawNeg != tc.wantSomeNeg {
				t.Fatalf("negative lines seen = %v, want %v", sawNeg, tc.wantSomeNeg)
			}
		})
	}
}

// checkCounts asserts that every measured message has exactly one outcome
// and that the echo baseline answered all of them.
func checkCounts(t *testing.T, r benchReport) {
	t.Helper()
	if r.Sent == 0 {
		t.Fatalf("nothing sent: %+v", r)
	}
	if r.Sent != r.Acked || r.Sent != r.Emotions || r.Sent != r.Replies {
		t.Fatalf("sent %d, acked %d, emotions %d, replies %d: want all equal", r.Sent, r.Acked, r.Emotions, r.Replies)
	}
	if r.Escalations+r.Errored+r.TimedOut+r.Abandoned != 0 || len(r.Errors) != 0 {
		t.Fatalf("echo run had failures: %+v", r)
	}
	if r.Ack.Count != int(r.Acked) || r.Emotion.Count != int(r.Emotions) || r.Reply.Count != int(r.Replies) {
		t.Fatalf("sample counts %d/%d/%d differ from message counts", r.Ack.Count, r.Emotion.Count, r.Reply.Count)
	}
	if r.Completed == 0 || r.Throughput <= 0 {
		t.Fatalf("no throughput: %+v", r)
	}
	for _, l := range []latencySummary{r.Ack, r.Emotion, r.Reply} {
		if !(l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
			t.Fatalf("percentiles out of order: %+v", l)
		}
	}
	// Each frame follows the previous one, so the means are ordered too.
	if !(r.Ack.Mean <= r.Emotion.Mean && r.Emotion.Mean <= r.Reply.Mean) {
		t.Fatalf("ack ≤ emotion ≤ reply does not hold: %v %v %v", r.Ack.Mean, r.Emotion.Mean, r.Reply.Mean)
	}
}

func TestBenchAgainstEcho(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64
	}{
		{"closed loop", 0},
		{"open loop", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig{Sessions: 4, Rate: tc.rate, Warmup: 100 * time.Millisecond, Duration: 300 * time.Millisecond, Seed: 1}
			r, err := runEcho(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkCounts(t, r)
			if r.Target != "echo" || r.Sessions != 4 {
				t.Fatalf("report header %+v", r)
			}
			if tc.rate > 0 && (r.Mode != "open" || r.Sent > int64(tc.rate*0.3)+4) {
				t.Fatalf("open loop sent %d in 300ms at %g/s (mode %s)", r.Sent, tc.rate, r.Mode)
			}
		})
	}
}

func TestCompareAndSweepAgainstEcho(t *testing.T) {
	// A second echo server stands in for the gateway.
	fake, err := startEchoServer()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	cfg := loadConfig{URL: fake.URL, Sessions: 2, Duration: 200 * time.Millisecond, Seed: 2}

	res, err := runCompare(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, res.Gateway)
	checkCounts(t, res.Echo)
	if want := ratio(res.Gateway.Throughput, res.Echo.Throughput); res.ThroughputRatio != want || want <= 0 {
		t.Fatalf("throughput ratio %v, want %v", res.ThroughputRatio, want)
	}

	svg := filepath.Join(t.TempDir(), "latency.svg")
	var out bytes.Buffer
	if err := runSweep(context.Background(), &out, cfg, []float64{100, 200}, svg, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"offered", "gateway", "echo", svg} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("sweep table lacks %q:\n%s", want, out.String())
		}
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	checkSVG(t, data, "gateway p99", "echo p50")
}

func TestLatencySVG(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	err := writeLatencySVG(&b, `p99 <&> "quoted"`, []svgSeries{
		{Name: "a<b", Color: "red", Points: []svgPoint{{500, 0.8}, {1000, 1.5}, {4000, 120}}},
		{Name: "empty", Color: "blue", Dashed: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkSVG(t, b.Bytes(), "a<b", "p99 <&> \"quoted\"", "offered load (messages/s, open loop)", "send → reply latency (ms, log scale)")

	if err := writeLatencySVG(io.Discard, "none", nil); err == nil {
		t.Fatal("a chart without points did not fail")
	}
}

// checkSVG parses data as XML and checks that the root is <svg> and that
// every want is the text of some element.
func checkSVG(t *testing.T, data []byte, want ...string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	texts := map[string]bool{}
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("invalid XML: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			texts[strings.TrimSpace(string(tok))] = true
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	for _, w := range want {
		if !texts[w] {
			t.Fatalf("no element with text %q", w)
		}
	}
}

func TestParseMem(t *testing.T) {
	t.Parallel()
	// The real exposition format, from the client library the gateway uses.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	m, err := scrapeMem(context.Background(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HeapInuse <= 0 || m.Goroutines <= 0 {
		t.Fatalf("scraped %+v", m)
	}

	if _, err := parseMem(strings.NewReader("# HELP x\nx 1\n")); err == nil {
		t.Fatal("metrics without process_resident_memory_bytes did not fail")
	}
	m, err = parseMem(strings.NewReader("process_resident_memory_bytes 1.5e+07\ngo_goroutines{a=\"b\"} 3\n"))
	if err != nil || m.RSS != 1.5e7 {
		t.Fatalf("parseMem = %+v, %v", m, err)
	}
}

func TestURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"ws://127.0.0.1:8080/ws", true},
		{"ws://localhost:8080/ws", true},
		{"ws://[::1]:8080/ws", true},
		{"ws://127.0.0.2/ws", true},
		{"ws://10.0.0.1:8080/ws", false},
		{"ws://example.com/ws", false},
		{"ftp://127.0.0.1/ws", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			if err := checkLoopback(tc.url); (err == nil) != tc.ok {
				t.Fatalf("checkLoopback(%q) = %v, want ok=%v", tc.url, err, tc.ok)
			}
		})
	}
	if got, _ := metricsURLFor("ws://127.0.0.1:8080/ws?session=x"); got != "http://127.0.0.1:8080/metrics" {
		t.Fatalf("metricsURLFor = %q", got)
	}
	if got, _ := parseRates("rates=500, 1000,2000"); len(got) != 3 || got[1] != 1000 {
		t.Fatalf("parseRates = %v", got)
	}
	if _, err := parseRates("500,-1"); err == nil {
		t.Fatal("negative rate accepted")
	}
}

// flakyGateway speaks the gateway's protocol with the parts the load tool
// depends on: events with seq, resume with session/token/last_seq and
// replay, dedup by message id, and escalation (on crisis lines, after
// which it stays silent). Every connection dies at its third message:
// odd connections after storing the message's events, even ones before.
type flakyGateway struct {
	mu       sync.Mutex
	sessions map[string]*flakySession
	conns    int
}

type flakySession struct {
	events    []map[string]any
	seen      map[string]bool
	escalated bool
}

func (g *flakyGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	q := r.URL.Query()
	g.mu.Lock()
	g.conns++
	storeFirst := g.conns%2 == 1
	sid := q.Get("session")
	s := g.sessions[sid]
	if sid != "" && (s == nil || q.Get("token") != "t-"+sid) {
		g.mu.Unlock()
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if s == nil {
		sid = fmt.Sprintf("s%d", len(g.sessions)+1)
		s = &flakySession{seen: map[string]bool{}}
		g.sessions[sid] = s
	}
	g.mu.Unlock()
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	lastSeq, _ := strconv.Atoi(q.Get("last_seq"))
	g.mu.Lock()
	replay := slices.Clone(s.events[min(lastSeq, len(s.events)):])
	seq := len(s.events)
	g.mu.Unlock()
	ws.WriteJSON(map[string]any{"type": "welcome", "session_id": sid, "token": "t-" + sid, "seq": seq, "resumed": lastSeq > 0 || q.Has("session")})
	for _, e := range replay {
		ws.WriteJSON(e)
	}
	for n := 1; ; n++ {
		var in struct{ Type, ID, Text string }
		if err := ws.ReadJSON(&in); err != nil {
			return
		}
		if n == 3 && !storeFirst {
			return // dropped before the message was stored
		}
		g.mu.Lock()
		var out []map[string]any
		if !s.seen[in.ID] && !s.escalated {
			s.seen[in.ID] = true
			add := func(e map[string]any) {
				e["seq"] = len(s.events) + 1
				s.events = append(s.events, e)
				out = append(out, e)
			}
			add(map[string]any{"type": "ack", "id": in.ID, "text": in.Text, "from": "user"})
			ref := len(s.events)
			add(map[string]any{"type": "emotion", "ref": ref, "label": "neutral"})
			if strings.Contains(in.Text, "죽고") || strings.Contains(in.Text, "자해") || strings.Contains(in.Text, "이유를") {
				s.escalated = true
				add(map[string]any{"type": "escalation", "ref": ref, "reason": "crisis", "severity": 3})
			} else {
				add(map[string]any{"type": "reply", "ref": ref, "text": "네.", "from": "bot"})
			}
		}
		g.mu.Unlock()
		if n == 3 {
			return // dropped after the message was stored
		}
		for _, e := range out {
			if ws.WriteJSON(e) != nil {
				return
			}
		}
	}
}

func TestBenchReconnectsAndRestarts(t *testing.T) {
	srv := httptest.NewServer(&flakyGateway{sessions: map[string]*flakySession{}})
	defer srv.Close()
	cfg := loadConfig{
		URL:      "ws" + strings.TrimPrefix(srv.URL, "http"),
		Sessions: 3, Duration: 400 * time.Millisecond, CrisisShare: 0.1, Seed: 3,
	}
	r, err := runLoad(context.Background(), cfg, "gateway")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d acked %d replies %d escalations %d abandoned %d reconnects %d restarts %d errors %v", r.Sent, r.Acked, r.Replies, r.Escalations, r.Abandoned, r.Reconnects, r.Restarts, r.Errors)
	if r.Reconnects == 0 || r.Restarts == 0 || r.Escalations == 0 || r.Replies == 0 {
		t.Fatalf("want reconnects, restarts, escalations and replies: %+v", r)
	}
	if r.TimedOut != 0 || r.Errored != 0 {
		t.Fatalf("messages lost across reconnects: %+v", r)
	}
	// Every measured message has exactly one outcome, and every one that
	// was answered was acknowledged exactly once.
	if r.Sent != r.Replies+r.Escalations+r.Abandoned {
		t.Fatalf("sent %d ≠ replies %d + escalations %d + abandoned %d", r.Sent, r.Replies, r.Escalations, r.Abandoned)
	}
	if r.Acked < r.Replies+r.Escalations || r.Acked > r.Sent {
		t.Fatalf("acked %d outside [%d, %d]", r.Acked, r.Replies+r.Escalations, r.Sent)
	}
}

func FuzzParseMem(f *testing.F) {
	f.Add("# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1.2e+07\n")
	f.Add("process_resident_memory_bytes \ngo_goroutines 4 1700000000000\n")
	f.Add("go_memstats_heap_inuse_bytes NaN\nprocess_cpu_seconds_total +Inf\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := parseMem(strings.NewReader(text))
		if err == nil && !strings.Contains(text, "process_resident_memory_bytes") {
			t.Fatalf("parsed %+v from text without the RSS metric", m)
		}
	})
}

func FuzzBenchFrame(f *testing.F) {
	f.Add(`{"type":"ack","seq":3,"id":"b1-1","text":"안녕","from":"user"}`)
	f.Add(`{"type":"reply","seq":5,"ref":3,"text":"네","from":"bot","notice":"busy"}`)
	f.Add(`{"type":"error","code":"rate_limited","id":"b1-2","retryable":true}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, data string) {
		// Whatever the server sends, handling it must not panic and must
		// keep the session's books consistent.
		cfg := &loadConfig{Sessions: 1, Timeout: time.Second}
		s := newLoadSession(cfg, nil, 0)
		now := time.Now()
		s.win = window{start: now, warmEnd: now, end: now.Add(time.Hour)}
		s.pending["b1-1"] = &pendingMsg{id: "b1-1", intended: now, measured: true}
		s.t.sent = 1
		in := inFrame{at: now}
		if err := json.Unmarshal([]byte(data), &in.f); err != nil {
			in.f = benchFrame{Type: "_undecodable"}
		}
		if in.f.Type == "escalation" {
			return // restarting dials; covered by TestBenchReconnectsAndRestarts
		}
		if err := s.handle(context.Background(), in, true); err != nil {
			t.Fatal(err)
		}
		done := s.t.replies + s.t.escalated + s.t.errored
		if int64(len(s.pending))+done != 1 {
			t.Fatalf("pending %d + done %d ≠ sent 1", len(s.pending), done)
		}
	})
}
