package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// loadConfig is one load run. Zero values mean the documented defaults of
// the bench flags, resolved by (*loadConfig).resolve.
type loadConfig struct {
	URL      string
	Sessions int
	// Rate is messages per second over all sessions; 0 is a closed loop.
	Rate     float64
	Duration time.Duration
	Warmup   time.Duration
	// Timeout is how long a message may wait for its reply.
	Timeout time.Duration
	// NegShare is the share of sad or angry lines; CrisisShare of crisis
	// lines (which escalate).
	NegShare    float64
	CrisisShare float64
	// DialConcurrency bounds the dials in flight.
	DialConcurrency int
	Seed            uint64
	// MetricsURL is the gateway's /metrics, read for its CPU time; empty
	// skips it (the echo baseline runs in this process).
	MetricsURL string
}

func (c *loadConfig) resolve() error {
	if c.Sessions <= 0 {
		return fmt.Errorf("--sessions must be positive")
	}
	if c.Rate < 0 || c.Duration <= 0 || c.Warmup < 0 {
		return fmt.Errorf("--rate, --duration and --warmup must not be negative (and --duration positive)")
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.DialConcurrency <= 0 {
		c.DialConcurrency = 64
	}
	if c.NegShare < 0 || c.CrisisShare < 0 || c.NegShare+c.CrisisShare > 1 {
		return fmt.Errorf("--negative-share and --crisis-share must be in [0, 1] together")
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if c.MetricsURL != "" {
		if err := checkLoopback(c.MetricsURL); err != nil {
			return err
		}
	}
	return checkLoopback(c.URL)
}

// checkLoopback refuses targets that are not on this machine: the load
// tool is for measuring one's own gateway, not anybody else's.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad url %q: %w", raw, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: scheme must be ws or wss", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("url %q: only loopback targets (127.0.0.0/8, ::1, localhost) are allowed", raw)
	}
	return nil
}

func benchDialer(bufSize int) *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   bufSize,
		WriteBufferSize:  bufSize,
	}
}

// dialAll runs connect for n items with at most conc dials in flight and
// returns how many failed and the first error.
func dialAll(ctx context.Context, n, conc int, connect func(i int) error) (failed int, first error) {
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, conc)
	)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := connect(i); err != nil {
				mu.Lock()
				failed++
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed, first
}

// runLoad opens cfg.Sessions sessions, drives them for the warm-up and the
// measured duration, waits for the answers in flight and reports.
func runLoad(ctx context.Context, cfg loadConfig, target string) (benchReport, error) {
	if err := cfg.resolve(); err != nil {
		return benchReport{}, err
	}
	d := benchDialer(4096)
	sessions := make([]*loadSession, cfg.Sessions)
	ok := make([]bool, cfg.Sessions)
	failed, first := dialAll(ctx, cfg.Sessions, cfg.DialConcurrency, func(i int) error {
		s := newLoadSession(&cfg, d, i)
		sessions[i] = s
		if err := s.connect(ctx, false); err != nil {
			return err
		}
		ok[i] = true
		return nil
	})
	if failed == cfg.Sessions {
		return benchReport{}, fmt.Errorf("no session could connect to %s: %w", cfg.URL, first)
	}
	if err := ctx.Err(); err != nil {
		return benchReport{}, err
	}

	cpu := startCPU(ctx, cfg.MetricsURL)
	start := time.Now().Add(50 * time.Millisecond)
	win := window{start: start, warmEnd: start.Add(cfg.Warmup)}
	win.end = win.warmEnd.Add(cfg.Duration)
	var wg sync.WaitGroup
	for i, s := range sessions {
		if !ok[i] {
			continue
		}
		wg.Go(func() { s.run(ctx, win) })
	}
	wg.Wait()

	total := newTally()
	for _, s := range sessions {
		if s != nil {
			total.merge(s.t)
		}
	}
	if failed > 0 {
		total.errs["dial"] += int64(failed)
	}
	r := total.report(cfg, target)
	r.CPU = cpu.stop(ctx)
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return r, err
	}
	return r, nil
}

// cpuUse is the processor time the run took, in seconds: this process (the
// load tool, and the echo baseline when that is the target) and, when its
// metrics are readable, the gateway. On a shared machine it shows how the
// cores were split.
type cpuUse struct {
	Wall    float64 `json:"wall_s"`
	Client  float64 `json:"client_s"`
	Gateway float64 `json:"gateway_s,omitempty"`
}

type cpuMeter struct {
	metricsURL string
	wall       time.Time
	client     float64
	gateway    float64 // -1: not readable
}

func startCPU(ctx context.Context, metricsURL string) *cpuMeter {
	m := &cpuMeter{metricsURL: metricsURL, wall: time.Now(), client: selfCPU(), gateway: -1}
	if metricsURL != "" {
		if g, err := scrapeMem(ctx, metricsURL); err == nil {
			m.gateway = g.CPUSeconds
		}
	}
	return m
}

func (m *cpuMeter) stop(ctx context.Context) cpuUse {
	u := cpuUse{Wall: time.Since(m.wall).Seconds(), Client: selfCPU() - m.client}
	if m.gateway >= 0 {
		if g, err := scrapeMem(ctx, m.metricsURL); err == nil {
			u.Gateway = g.CPUSeconds - m.gateway
		}
	}
	r3 := func(x float64) float64 { return math.Round(x*1000) / 1000 }
	u.Wall, u.Client, u.Gateway = r3(u.Wall), r3(u.Client), r3(u.Gateway)
	return u
}

// selfCPU is this process's user and system time so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
