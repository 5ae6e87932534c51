package emotion

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sony/gobreaker/v2"
)

// fakePrimary stands in for the Ollama classifier: it answers a fixed label,
// fails, or blocks until its context ends, as the test sets it.
type fakePrimary struct {
	mode  atomic.Value // "ok", "error", "hang", "ignore-ctx"
	calls atomic.Int64
}

var errOllamaDown = errors.New("ollama: connection refused")

func newFake(mode string) *fakePrimary {
	f := &fakePrimary{}
	f.mode.Store(mode)
	return f
}

func (f *fakePrimary) Classify(ctx context.Context, _ string) (Result, error) {
	f.calls.Add(1)
	switch f.mode.Load().(string) {
	case "error":
		return Result{}, errOllamaDown
	case "hang":
		<-ctx.Done()
		return Result{}, ctx.Err()
	case "ignore-ctx":
		time.Sleep(200 * time.Millisecond)
		return Result{Label: Joy, Source: SourceOllama}, nil
	case "bad-label":
		return Result{Label: Label(7), Source: SourceOllama}, nil
	}
	return Result{Label: Joy, Scores: Scores{0, 0, 1, 0}, Source: SourceOllama}, nil
}

// fixedFallback answers Sadness, so tests can tell who answered.
type fixedFallback struct{}

func (fixedFallback) Classify(context.Context, string) (Result, error) {
	return Result{Label: Sadness, Scores: Scores{0, 1, 0, 0}, Source: SourceEmbedded}, nil
}

func testChain(t *testing.T, p Classifier, reg prometheus.Registerer) *Chain {
	t.Helper()
	return NewChain(p, fixedFallback{}, ChainOptions{
		Timeout:         20 * time.Millisecond,
		BreakerFailures: 3,
		BreakerOpen:     50 * time.Millisecond,
		Registerer:      reg,
		Logger:          slog.New(slog.DiscardHandler),
	})
}

func TestChainSources(t *testing.T) {
	tests := []struct {
		mode       string
		wantSource Source
		wantLabel  Label
		wantReason string
	}{
		{"ok", SourceOllama, Joy, ""},
		{"error", SourceEmbedded, Sadness, ReasonError},
		{"hang", SourceEmbedded, Sadness, ReasonTimeout},
		{"ignore-ctx", SourceEmbedded, Sadness, ReasonTimeout},
		{"bad-label", SourceEmbedded, Sadness, ReasonError},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			c := testChain(t, newFake(tc.mode), reg)
			res, err := c.Classify(context.Background(), "오늘 좀 힘들었어")
			if err != nil {
				t.Fatal(err)
			}
			if res.Source != tc.wantSource || res.Label != tc.wantLabel {
				t.Errorf("got %s from %s, want %s from %s", res.Label, res.Source, tc.wantLabel, tc.wantSource)
			}
			if got := metricValue(t, c.m.classified.WithLabelValues(string(tc.wantSource))); got != 1 {
				t.Errorf("classifications{source=%s} = %v, want 1", tc.wantSource, got)
			}
			for _, r := range []string{ReasonTimeout, ReasonError, ReasonBreakerOpen} {
				want := 0.0
				if r == tc.wantReason {
					want = 1
				}
				if got := metricValue(t, c.m.fallbacks.WithLabelValues(r)); got != want {
					t.Errorf("fallbacks{reason=%s} = %v, want %v", r, got, want)
				}
			}
			if n := histogramCount(t, reg, "moodgate_emotion_latency_seconds", string(tc.wantSource)); n != 1 {
				t.Errorf("latency{source=%s} count = %d, want 1", tc.wantSource, n)
			}
		})
	}
}

func TestChainCrisisOnEverySource(t *testing.T) {
	for _, mode := range []string{"ok", "error"} {
		t.Run(mode, func(t *testing.T) {
			c := testChain(t, newFake(mode), nil)
			res, err := c.Classify(context.Background(), "요즘 진짜 죽고 싶다")
			if err != nil {
				t.Fatal(err)
			}
			if !res.Crisis || res.CrisisRule != "want_to_die" {
				t.Errorf("crisis = %v %q, want true want_to_die (source %s)", res.Crisis, res.CrisisRule, res.Source)
			}
			res, _ = c.Classify(context.Background(), "배고파 죽겠다")
			if res.Crisis {
				t.Errorf("hyperbole flagged as crisis by rule %q", res.CrisisRule)
			}
		})
	}
}

// checkFor polls cond until it holds or the timeout passes.
func checkFor(t *testing.T, timeout, every time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(every)
	}
}

func TestChainBreaker(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := newFake("error")
	c := testChain(t, p, reg)
	ctx := context.Background()
	for range 3 {
		if _, err := c.Classify(ctx, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if c.BreakerState() != gobreaker.StateOpen {
		t.Fatalf("breaker %s after 3 failures, want open", c.BreakerState())
	}
	if got := metricValue(t, c.m.breakerState); got != 2 {
		t.Errorf("breaker gauge = %v, want 2", got)
	}
	res, err := c.Classify(ctx, "x")
	if err != nil || res.Source != SourceEmbedded {
		t.Fatalf("open breaker: %v from %s", err, res.Source)
	}
	if n := p.calls.Load(); n != 3 {
		t.Errorf("primary called %d times, want 3 (not while open)", n)
	}
	if got := metricValue(t, c.m.fallbacks.WithLabelValues(ReasonBreakerOpen)); got != 1 {
		t.Errorf("fallbacks{breaker_open} = %v, want 1", got)
	}
	// The primary recovers; after BreakerOpen a trial call closes the breaker.
	p.mode.Store("ok")
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() bool { return c.BreakerState() == gobreaker.StateHalfOpen })
	res, err = c.Classify(ctx, "x")
	if err != nil || res.Source != SourceOllama {
		t.Fatalf("half-open trial: %v from %s", err, res.Source)
	}
	if c.BreakerState() != gobreaker.StateClosed {
		t.Errorf("breaker %s after a successful trial, want closed", c.BreakerState())
	}
}

func TestChainCallerCancelDoesNotTrip(t *testing.T) {
	c := NewChain(newFake("hang"), fixedFallback{}, ChainOptions{Timeout: time.Minute, BreakerFailures: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := c.Classify(ctx, "x")
	if err != nil || res.Source != SourceEmbedded {
		t.Fatalf("got %v from %s", err, res.Source)
	}
	if c.BreakerState() != gobreaker.StateClosed {
		t.Errorf("caller's cancel tripped the breaker: %s", c.BreakerState())
	}
}

func TestChainWithoutPrimaryOrFallback(t *testing.T) {
	c := NewChain(nil, fixedFallback{}, ChainOptions{})
	res, err := c.Classify(context.Background(), "x")
	if err != nil || res.Source != SourceEmbedded || res.Label != Sadness {
		t.Errorf("fallback only: %+v, %v", res, err)
	}
	c = NewChain(newFake("error"), nil, ChainOptions{})
	if _, err := c.Classify(context.Background(), "x"); !errors.Is(err, ErrNoClassifier) || !errors.Is(err, errOllamaDown) {
		t.Errorf("primary only, failing: err = %v, want ErrNoClassifier wrapping the cause", err)
	}
}

func TestChainSharesRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := testChain(t, newFake("ok"), reg)
	b := testChain(t, newFake("ok"), reg)
	a.Classify(context.Background(), "x")
	b.Classify(context.Background(), "x")
	if got := metricValue(t, a.m.classified.WithLabelValues(string(SourceOllama))); got != 2 {
		t.Errorf("shared counter = %v, want 2", got)
	}
}

func TestChainConcurrent(t *testing.T) {
	p := newFake("ok")
	c := NewChain(p, Embedded(), ChainOptions{Timeout: 50 * time.Millisecond, BreakerFailures: 2, BreakerOpen: 5 * time.Millisecond, Registerer: prometheus.NewRegistry()})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if g == 0 && i%10 == 0 {
					modes := []string{"ok", "error", "hang"}
					p.mode.Store(modes[(i/10)%3])
				}
				res, err := c.Classify(context.Background(), "오늘 기분 좋아 ㅋㅋ")
				if err != nil {
					t.Error(err)
					return
				}
				if res.Source != SourceOllama && res.Source != SourceEmbedded {
					t.Errorf("source %q", res.Source)
				}
			}
		}()
	}
	wg.Wait()
}

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("metric is neither counter nor gauge: %v", &d)
	return 0
}

// histogramCount gathers reg and returns the sample count of the histogram
// name whose source label is source.
func histogramCount(t *testing.T, reg *prometheus.Registry, name, source string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "source" && l.GetValue() == source {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// TestChainEmbeddedFallback uses the real embedded model as the fallback,
// which the chain scores directly: the result must match Model.Classify.
func TestChainEmbeddedFallback(t *testing.T) {
	m := Embedded()
	c := NewChain(newFake("error"), m, ChainOptions{Logger: slog.New(slog.DiscardHandler)})
	for _, text := range append(benchMessages, "진짜 죽고 싶다 ㅠㅠ") {
		got, err := c.Classify(context.Background(), text)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := m.Classify(context.Background(), text)
		if got != want {
			t.Errorf("%q: chain %+v, model %+v", text, got, want)
		}
	}
}

// BenchmarkChainEmbedded is the chain the gateway runs without Ollama: the
// crisis screen, the embedded model and the metrics.
func BenchmarkChainEmbedded(b *testing.B) {
	c := NewChain(nil, Embedded(), ChainOptions{Registerer: prometheus.NewRegistry()})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Classify(ctx, benchMessages[i%len(benchMessages)]); err != nil {
			b.Fatal(err)
		}
	}
}
