package ollama

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultRecheckInterval is how often Watch checks the models with /api/show.
const DefaultRecheckInterval = 15 * time.Second

// Options configure a Client. Zero values mean the documented defaults.
type Options struct {
	// Hosts are Ollama base URLs or host:port pairs (OLLAMA_HOST, split on
	// commas); at least one is required.
	Hosts []string
	// HTTPClient sends every request; nil means a new http.Client without a
	// global timeout (each call's context bounds it).
	HTTPClient *http.Client
	// Cooldown is how long a failed host is skipped; default DefaultCooldown.
	Cooldown time.Duration
	// RecheckInterval is how often Watch re-runs the model checks; default
	// DefaultRecheckInterval.
	RecheckInterval time.Duration
	// Logger receives warnings about hosts and models; nil means
	// slog.Default().
	Logger *slog.Logger
	// Registerer receives the package's metrics; nil records none.
	Registerer prometheus.Registerer
}

// Client is the shared connection to the Ollama servers: the host pool and
// the state of every model the classifiers and responders built on it use.
type Client struct {
	pool    *Pool
	log     *slog.Logger
	metrics *metrics
	recheck time.Duration

	mu     sync.Mutex
	models map[string]*modelState
	wake   chan struct{}
}

// New builds a Client. It sends no request; call CheckModels or Watch.
func New(opts Options) (*Client, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "ollama")
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("ollama: metrics: %w", err)
	}
	p, err := newPool(opts.Hosts, opts.HTTPClient, opts.Cooldown, log, m)
	if err != nil {
		return nil, err
	}
	recheck := opts.RecheckInterval
	if recheck <= 0 {
		recheck = DefaultRecheckInterval
	}
	return &Client{
		pool:    p,
		log:     log,
		metrics: m,
		recheck: recheck,
		models:  map[string]*modelState{},
		wake:    make(chan struct{}, 1),
	}, nil
}

// Pool returns the client's host pool.
func (c *Client) Pool() *Pool { return c.pool }

// Status is a snapshot for operators and readiness probes.
type Status struct {
	Hosts  []HostStatus  `json:"hosts"`
	Models []ModelStatus `json:"models"`
}

// Status reports every host and every tracked model. It does not block on
// the network.
func (c *Client) Status() Status {
	c.mu.Lock()
	ms := make([]ModelStatus, 0, len(c.models))
	for _, s := range c.models {
		ms = append(ms, s.ModelStatus)
	}
	c.mu.Unlock()
	sort.Slice(ms, func(i, j int) bool { return ms[i].Model < ms[j].Model })
	return Status{Hosts: c.pool.Status(), Models: ms}
}

// Ready returns nil when every tracked model was found by the last check,
// and otherwise an error naming each model that is missing or could not be
// checked, for a readiness probe's detail. Models never checked yet are
// checked now, bounded by ctx.
func (c *Client) Ready(ctx context.Context) error {
	c.mu.Lock()
	unchecked := false
	for _, s := range c.models {
		unchecked = unchecked || s.CheckedAt.IsZero()
	}
	c.mu.Unlock()
	if unchecked {
		c.CheckModels(ctx)
	}
	var errs []error
	if err := c.hostsReady(); err != nil {
		errs = append(errs, err)
	}
	for _, s := range c.Status().Models {
		switch s.State {
		case StatePresent:
		case StateMissing:
			errs = append(errs, fmt.Errorf("%w: %q (install it: %s)", ErrModelMissing, s.Model, s.Hint))
		default:
			errs = append(errs, fmt.Errorf("ollama: model %q not checked: %s", s.Model, s.Error))
		}
	}
	return errors.Join(errs...)
}

// Watch checks the models now and then every RecheckInterval, and at once
// after a request found a model missing, until ctx ends. Run it in its own
// goroutine; it logs when a model goes missing or appears.
func (c *Client) Watch(ctx context.Context) {
	t := time.NewTicker(c.recheck)
	defer t.Stop()
	for {
		c.CheckModels(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.wake:
		}
	}
}

// CheckModels runs /api/show for every tracked model and records the result;
// it returns the number of models found.
func (c *Client) CheckModels(ctx context.Context) int {
	c.mu.Lock()
	names := make([]string, 0, len(c.models))
	for n := range c.models {
		names = append(names, n)
	}
	c.mu.Unlock()
	sort.Strings(names)
	found := 0
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		var resp *api.ShowResponse
		start := time.Now()
		err := c.pool.Do(ctx, "show", func(ctx context.Context, cl *api.Client) error {
			r, err := cl.Show(ctx, &api.ShowRequest{Model: name})
			resp = r
			return err
		})
		c.metrics.observe("show", outcome(err), time.Since(start))
		switch {
		case err == nil:
			found++
			c.setState(name, StatePresent, nil, resp)
		case isNotFound(err):
			c.setState(name, StateMissing, err, nil)
		default:
			c.setState(name, StateUnknown, err, nil)
		}
	}
	return found
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrModelMissing), isNotFound(err):
		return "model_missing"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrNoAnswer):
		return "no_answer"
	case errors.Is(err, ErrNoHost):
		return "no_host"
	default:
		return "error"
	}
}

// hostsReady fails while every host is cooling down after a failure.
func (c *Client) hostsReady() error {
	var last string
	for _, h := range c.pool.Status() {
		if h.Up {
			return nil
		}
		last = h.LastError
	}
	return fmt.Errorf("%w: every host is cooling down after a failure (last: %s)", ErrNoHost, last)
}
