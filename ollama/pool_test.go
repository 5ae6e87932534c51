package ollama

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/moodgate/moodgate/ollama/ollamatest"
)

func mustParseHost(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := ParseHost(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestParseHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1":              "http://127.0.0.1:11434",
		"ollama:11434":           "http://ollama:11434",
		"http://10.0.0.2:8080/":  "http://10.0.0.2:8080",
		"https://ollama.example": "https://ollama.example:443",
		" gpu-1 ":                "http://gpu-1:11434",
	} {
		u, err := ParseHost(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseHost(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://x", "http://"} {
		if _, err := ParseHost(bad); err == nil {
			t.Errorf("ParseHost(%q) accepted", bad)
		}
	}
}

func TestRoundRobin(t *testing.T) {
	t.Parallel()
	a, b := newFake(t, "moodgate-emotion"), newFake(t, "moodgate-emotion")
	_, k := newClassifier(t, a.URL, b.URL)
	for range 6 {
		if _, err := k.Classify(testContext(t), "골고루"); err != nil {
			t.Fatal(err)
		}
	}
	if na, nb := a.Hits("/api/generate"), b.Hits("/api/generate"); na != 3 || nb != 3 {
		t.Errorf("requests a=%d b=%d, want 3 and 3", na, nb)
	}
}

// clock is a settable time source for cool-down tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestFailover(t *testing.T) {
	t.Parallel()
	// A host that refuses connections: a listener closed at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	flaky, good := newFake(t, "moodgate-emotion"), newFake(t, "moodgate-emotion")
	var mu sync.Mutex
	broken := true
	flaky.OnGenerate(func(r *api.GenerateRequest) ollamatest.Reply {
		mu.Lock()
		defer mu.Unlock()
		if broken {
			return ollamatest.Reply{Status: http.StatusInternalServerError, Error: "llama runner process has terminated"}
		}
		return ollamatest.KeywordReply(r)
	})

	c, k := newClassifier(t, dead, flaky.URL, good.URL)
	clk := &clock{t: time.Unix(1_000_000, 0)}
	c.pool.now = clk.now
	ctx := testContext(t)
	for i := range 6 {
		if _, err := k.Classify(ctx, "실패를 건너뛰기"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	st := c.Pool().Status()
	if st[0].Up || st[1].Up || !st[2].Up || st[0].LastError == "" || st[1].LastError == "" {
		t.Fatalf("status = %+v, want dead and flaky down, good up", st)
	}
	if n := flaky.Hits("/api/generate"); n != 1 {
		t.Errorf("flaky host got %d requests during its cool-down, want 1", n)
	}
	if n := good.Hits("/api/generate"); n != 6 {
		t.Errorf("good host served %d of 6", n)
	}

	// After the cool-down the hosts are tried again; the repaired one serves.
	mu.Lock()
	broken = false
	mu.Unlock()
	clk.add(DefaultCooldown)
	for range 6 {
		if _, err := k.Classify(ctx, "다시 시도"); err != nil {
			t.Fatal(err)
		}
	}
	if n := flaky.Hits("/api/generate"); n < 3 {
		t.Errorf("repaired host got %d requests in all, want it back in the rotation", n)
	}
	if st := c.Pool().Status(); !st[1].Up || st[0].Up {
		t.Errorf("status = %+v, want flaky up again and dead down again", st)
	}
}

func TestAllHostsDown(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "moodgate-emotion")
	fake.OnGenerate(func(*api.GenerateRequest) ollamatest.Reply {
		return ollamatest.Reply{Status: http.StatusServiceUnavailable, Error: "server busy, please try again.  maximum pending requests exceeded"}
	})
	_, k := newClassifier(t, fake.URL)
	ctx := testContext(t)
	if _, err := k.Classify(ctx, "x"); err == nil || errors.Is(err, ErrNoHost) {
		t.Fatalf("first failure: %v", err)
	}
	if _, err := k.Classify(ctx, "x"); !errors.Is(err, ErrNoHost) {
		t.Fatalf("err = %v, want ErrNoHost", err)
	}
	if n := fake.Hits("/api/generate"); n != 1 {
		t.Errorf("%d requests sent to a host cooling down", n-1)
	}
}
