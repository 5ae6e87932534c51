package emotion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// ChainOptions configure a Chain. Zero values mean the documented defaults.
type ChainOptions struct {
	// Timeout bounds one call to the primary classifier. Default 1.5s.
	Timeout time.Duration
	// BreakerFailures is how many consecutive primary failures (errors or
	// timeouts) open the circuit breaker. Default 5.
	BreakerFailures uint32
	// BreakerOpen is how long the breaker stays open before it lets a trial
	// call through (half-open). Default 30s.
	BreakerOpen time.Duration
	// BreakerHalfOpenRequests is how many trial calls the half-open breaker
	// lets through; that many successes close it. Default 1.
	BreakerHalfOpenRequests uint32
	// Registerer receives the chain's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger logs breaker state changes; nil uses slog.Default().
	Logger *slog.Logger
}

// Fallback reasons, the values of the "reason" label of
// moodgate_emotion_fallbacks_total.
const (
	ReasonTimeout     = "timeout"
	ReasonError       = "error"
	ReasonBreakerOpen = "breaker_open"
)

// ErrNoClassifier is returned by Chain.Classify when it has no fallback and
// the primary failed (or there is neither).
var ErrNoClassifier = errors.New("emotion: no classifier answered")

// errCallerGone marks a primary call abandoned because the caller's context
// ended; it says nothing about the primary's health, so the breaker ignores it.
var errCallerGone = errors.New("emotion: caller's context ended")

// Chain asks a primary classifier (Ollama) under a deadline and a circuit
// breaker and falls back to another (the embedded model) on a timeout, an
// error or an open breaker. Every Result has the crisis screen applied and
// names the source that actually produced its label. A Chain is safe for
// concurrent use.
type Chain struct {
	primary, fallback Classifier
	timeout           time.Duration
	breaker           *gobreaker.CircuitBreaker[Result]
	m                 *chainMetrics
}

var _ Classifier = (*Chain)(nil)

// NewChain builds a chain. primary may be nil (then the fallback answers
// every call); fallback may be nil only if primary is not (then a primary
// failure is returned as an error).
func NewChain(primary, fallback Classifier, opts ChainOptions) *Chain {
	if opts.Timeout <= 0 {
		opts.Timeout = 1500 * time.Millisecond
	}
	if opts.BreakerFailures == 0 {
		opts.BreakerFailures = 5
	}
	if opts.BreakerOpen <= 0 {
		opts.BreakerOpen = 30 * time.Second
	}
	if opts.BreakerHalfOpenRequests == 0 {
		opts.BreakerHalfOpenRequests = 1
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Chain{primary: primary, fallback: fallback, timeout: opts.Timeout, m: newChainMetrics(opts.Registerer)}
	failures := opts.BreakerFailures
	c.breaker = gobreaker.NewCircuitBreaker[Result](gobreaker.Settings{
		Name:        "emotion-primary",
		MaxRequests: opts.BreakerHalfOpenRequests,
		Timeout:     opts.BreakerOpen,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= failures },
		IsExcluded:  func(err error) bool { return errors.Is(err, errCallerGone) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			c.m.breakerState.Set(float64(to))
			log.Info("emotion: primary classifier breaker", "from", from.String(), "to", to.String())
		},
	})
	return c
}

// Ready reports whether the chain can label a message. With a fallback it
// always can (the primary's health is the breaker's business and is reported
// on its own), so readiness probes cost no call to the primary; without one
// it asks the primary.
func (c *Chain) Ready(ctx context.Context) error {
	if c.fallback != nil {
		return nil
	}
	_, err := c.Classify(ctx, "안녕하세요")
	return err
}

// BreakerState reports the primary's circuit breaker state.
func (c *Chain) BreakerState() gobreaker.State { return c.breaker.State() }

// Classify labels text with the primary classifier, or the fallback when
// the primary is absent, slow, failing or shut off by the breaker.
func (c *Chain) Classify(ctx context.Context, text string) (Result, error) {
	crisis, rule := ScreenCrisis(text)
	if crisis {
		c.m.crisis.WithLabelValues(rule).Inc()
	}
	var primaryErr error
	if c.primary != nil {
		start := time.Now()
		res, err := c.breaker.Execute(func() (Result, error) { return c.callPrimary(ctx, text) })
		if err == nil {
			if res.Source == "" {
				res.Source = SourceOllama
			}
			c.observe(res.Source, start)
			res.Crisis, res.CrisisRule = crisis, rule
			return res, nil
		}
		reason := ReasonError
		switch {
		case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
			reason = ReasonBreakerOpen
		case errors.Is(err, context.DeadlineExceeded):
			reason = ReasonTimeout
		}
		if c.fallback != nil {
			c.m.fallbacks.WithLabelValues(reason).Inc()
		}
		primaryErr = fmt.Errorf("%s: %w", reason, err)
	}
	if c.fallback == nil {
		return Result{}, fmt.Errorf("%w: %w", ErrNoClassifier, primaryErr)
	}
	start := time.Now()
	var res Result
	var err error
	if m, ok := c.fallback.(*Model); ok {
		// The embedded model directly: the crisis screen already ran above.
		s := m.Predict(text)
		res = Result{Label: s.Argmax(), Scores: s, Source: SourceEmbedded}
	} else {
		res, err = c.fallback.Classify(ctx, text)
	}
	if err != nil {
		return Result{}, fmt.Errorf("%w: fallback: %w (primary: %v)", ErrNoClassifier, err, primaryErr)
	}
	if res.Source == "" {
		res.Source = SourceEmbedded
	}
	c.observe(res.Source, start)
	res.Crisis, res.CrisisRule = crisis, rule
	return res, nil
}

// callPrimary runs the primary under the chain's deadline. The primary runs
// in its own goroutine so that one that ignores its context still cannot
// hold the caller past the deadline.
func (c *Chain) callPrimary(ctx context.Context, text string) (Result, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	type answer struct {
		res Result
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		r, err := c.primary.Classify(cctx, text)
		ch <- answer{r, err}
	}()
	select {
	case a := <-ch:
		switch {
		case a.err != nil && ctx.Err() != nil:
			return Result{}, fmt.Errorf("%w: %w", errCallerGone, a.err)
		case a.err != nil:
			return Result{}, a.err
		case !a.res.Label.Valid():
			return Result{}, fmt.Errorf("%w: primary answered %d", ErrUnknownLabel, int(a.res.Label))
		}
		return a.res, nil
	case <-cctx.Done():
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("%w: %w", errCallerGone, ctx.Err())
		}
		return Result{}, fmt.Errorf("primary classifier: %w after %s", context.DeadlineExceeded, c.timeout)
	}
}

func (c *Chain) observe(src Source, start time.Time) {
	c.m.classified.WithLabelValues(string(src)).Inc()
	c.m.latency.WithLabelValues(string(src)).Observe(time.Since(start).Seconds())
}

type chainMetrics struct {
	classified   *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	fallbacks    *prometheus.CounterVec
	crisis       *prometheus.CounterVec
	breakerState prometheus.Gauge
}

func newChainMetrics(reg prometheus.Registerer) *chainMetrics {
	m := &chainMetrics{
		classified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moodgate_emotion_classifications_total",
			Help: "Messages labelled, by the source that produced the label.",
		}, []string{"source"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "moodgate_emotion_latency_seconds",
			Help:    "Time to label one message, by the source that produced the label.",
			Buckets: []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .25, .5, 1, 1.5, 2.5, 5},
		}, []string{"source"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moodgate_emotion_fallbacks_total",
			Help: "Messages the fallback classifier labelled because the primary could not, by reason (timeout, error, breaker_open).",
		}, []string{"reason"}),
		crisis: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moodgate_emotion_crisis_total",
			Help: "Messages that matched the crisis screen, by rule.",
		}, []string{"rule"}),
		breakerState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "moodgate_emotion_breaker_state",
			Help: "State of the primary classifier's circuit breaker: 0 closed, 1 half-open, 2 open.",
		}),
	}
	for _, r := range []string{ReasonTimeout, ReasonError, ReasonBreakerOpen} {
		m.fallbacks.WithLabelValues(r)
	}
	if reg != nil {
		m.classified = register(reg, m.classified)
		m.latency = register(reg, m.latency)
		m.fallbacks = register(reg, m.fallbacks)
		m.crisis = register(reg, m.crisis)
		m.breakerState = register(reg, m.breakerState)
	}
	return m
}

// register registers c, or returns the collector already registered under
// the same name so that two chains on one registry share their metrics.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
		panic(fmt.Sprintf("emotion: register metrics: %v", err))
	}
	return c
}
