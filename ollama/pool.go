package ollama

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ollama/ollama/api"
)

// DefaultCooldown is how long a failed host is skipped.
const DefaultCooldown = 10 * time.Second

// Host is one Ollama server of a Pool.
type Host struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:11434.
	URL string
	api *api.Client

	mu        sync.Mutex
	downUntil time.Time
	lastErr   error
}

// Pool spreads requests over several Ollama servers in round-robin order. A
// host that fails (connection error, 5xx, malformed or cut-off response) is
// skipped for the cool-down and tried again after it; a success clears it.
// Timeouts do not mark a host down: a slow host is the breaker's business,
// not the pool's. A Pool is safe for concurrent use.
type Pool struct {
	hosts    []*Host
	next     atomic.Uint64
	cooldown time.Duration
	now      func() time.Time
	log      *slog.Logger
	metrics  *metrics
}

// ParseHost turns an OLLAMA_HOST entry into a base URL the way Ollama does:
// the scheme defaults to http and the port to 11434 ("host", "host:port",
// "http://host:port", "https://host" are all accepted).
func ParseHost(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("ollama: empty host")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("ollama: host %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("ollama: host %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("ollama: host %q has no host name", s)
	}
	if u.Port() == "" {
		port := "11434"
		if u.Scheme == "https" {
			port = "443"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

func newPool(hosts []string, hc *http.Client, cooldown time.Duration, log *slog.Logger, m *metrics) (*Pool, error) {
	if len(hosts) == 0 {
		return nil, errors.New("ollama: no hosts")
	}
	if hc == nil {
		hc = &http.Client{}
	}
	if cooldown <= 0 {
		cooldown = DefaultCooldown
	}
	p := &Pool{cooldown: cooldown, now: time.Now, log: log, metrics: m}
	for _, h := range hosts {
		u, err := ParseHost(h)
		if err != nil {
			return nil, err
		}
		p.hosts = append(p.hosts, &Host{URL: u.String(), api: api.NewClient(u, hc)})
	}
	return p, nil
}

// Hosts returns the base URLs in order.
func (p *Pool) Hosts() []string {
	out := make([]string, len(p.hosts))
	for i, h := range p.hosts {
		out[i] = h.URL
	}
	return out
}

// HostStatus is one host's state for operators.
type HostStatus struct {
	URL string `json:"url"`
	// Up is false while the host is cooling down after a failure.
	Up bool `json:"up"`
	// DownUntil is when the cool-down ends (zero when up).
	DownUntil time.Time `json:"down_until,omitzero"`
	// LastError is the failure that started the cool-down.
	LastError string `json:"last_error,omitempty"`
}

// Status reports every host.
func (p *Pool) Status() []HostStatus {
	now := p.now()
	out := make([]HostStatus, len(p.hosts))
	for i, h := range p.hosts {
		h.mu.Lock()
		out[i] = HostStatus{URL: h.URL, Up: !now.Before(h.downUntil)}
		if !out[i].Up {
			out[i].DownUntil = h.downUntil
			if h.lastErr != nil {
				out[i].LastError = h.lastErr.Error()
			}
		}
		h.mu.Unlock()
	}
	return out
}

// committed marks an error after which a request must not be repeated on
// another host (a reply already streamed part of its text to the user).
type committed struct{ err error }

func (c committed) Error() string { return c.err.Error() }
func (c committed) Unwrap() error { return c.err }

// Do calls fn with the hosts in round-robin order until one succeeds. A host
// failure (see hostFailure) starts that host's cool-down and moves on to the
// next host while ctx is alive; any other error is returned as is. Hosts in
// cool-down are skipped; when all are, Do returns ErrNoHost without a
// request. fn may wrap its error with committed to stop the failover.
func (p *Pool) Do(ctx context.Context, op string, fn func(ctx context.Context, c *api.Client) error) error {
	start := p.next.Add(1) - 1
	n := uint64(len(p.hosts))
	var lastErr error
	tried := 0
	for i := range n {
		h := p.hosts[(start+i)%n]
		if !h.available(p.now()) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		tried++
		err := fn(ctx, h.api)
		if err == nil {
			h.up(p)
			return nil
		}
		var stop committed
		isCommitted := errors.As(err, &stop)
		if isCommitted {
			err = stop.err
		}
		if !hostFailure(ctx, err) {
			return err
		}
		h.down(p, op, err)
		lastErr = err
		if isCommitted {
			return err
		}
	}
	if tried == 0 {
		return ErrNoHost
	}
	return lastErr
}

func (h *Host) available(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !now.Before(h.downUntil)
}

func (h *Host) up(p *Pool) {
	h.mu.Lock()
	was := !h.downUntil.IsZero()
	h.downUntil, h.lastErr = time.Time{}, nil
	h.mu.Unlock()
	if was {
		p.log.Info("ollama host is back", "host", h.URL)
	}
}

func (h *Host) down(p *Pool, op string, err error) {
	h.mu.Lock()
	h.downUntil = p.now().Add(p.cooldown)
	h.lastErr = err
	h.mu.Unlock()
	p.metrics.hostFailed(h.URL)
	p.log.Warn("ollama host failed; skipping it for the cool-down", "host", h.URL, "op", op, "cooldown", p.cooldown, "err", err)
}

// hostFailure reports whether err says the host is broken rather than the
// request or the caller: transport errors, 5xx, malformed or cut-off
// responses are; 4xx (bad request, model not found), the caller's
// cancellation and deadline, and the classifier's own verdicts are not.
func hostFailure(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se api.StatusError
	if errors.As(err, &se) {
		return se.StatusCode >= 500
	}
	var ae api.AuthorizationError
	if errors.As(err, &ae) {
		return false
	}
	for _, sentinel := range []error{ErrModelMissing, ErrNoAnswer, ErrCrisis, ErrEmptyReply} {
		if errors.Is(err, sentinel) {
			return false
		}
	}
	return true
}

// isNotFound reports whether err is Ollama's 404 "model '…' not found".
func isNotFound(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.StatusCode == http.StatusNotFound
}
