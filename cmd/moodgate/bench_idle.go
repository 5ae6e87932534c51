package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// idleConfig is an --idle run: open Sessions sessions that only stay
// connected, and read the gateway's memory before and after.
type idleConfig struct {
	URL             string
	MetricsURL      string
	Sessions        int
	Hold            time.Duration
	DialConcurrency int
}

// idleReport is the result of an --idle run. Memory is in bytes.
type idleReport struct {
	URL        string  `json:"url"`
	MetricsURL string  `json:"metrics_url"`
	Requested  int     `json:"sessions"`
	Open       int     `json:"open"`
	Failed     int     `json:"failed"`
	Dropped    int64   `json:"dropped_during_hold"`
	DialSecs   float64 `json:"dial_s"`
	HoldSecs   float64 `json:"hold_s"`
	FDLimit    uint64  `json:"fd_limit"`
	FirstError string  `json:"first_error,omitempty"`

	Before gatewayMem `json:"before"`
	After  gatewayMem `json:"after"`
	// Per open session: (after − before) / open.
	RSSPerSession        float64 `json:"rss_per_session_bytes"`
	HeapPerSession       float64 `json:"heap_inuse_per_session_bytes,omitempty"`
	GoroutinesPerSession float64 `json:"goroutines_per_session,omitempty"`
}

// gatewayMem is what the gateway's /metrics says about its memory.
type gatewayMem struct {
	RSS        float64 `json:"process_resident_memory_bytes"`
	HeapInuse  float64 `json:"go_memstats_heap_inuse_bytes,omitempty"`
	Goroutines float64 `json:"go_goroutines,omitempty"`
	CPUSeconds float64 `json:"process_cpu_seconds_total,omitempty"`
}

// metricsURLFor derives http://host/metrics from the WebSocket URL.
func metricsURLFor(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "wss", "https":
		u.Scheme = "https"
	default:
		u.Scheme = "http"
	}
	u.Path, u.RawQuery = "/metrics", ""
	return u.String(), nil
}

// scrapeMem reads the gateway's memory gauges from Prometheus text.
func scrapeMem(ctx context.Context, metricsURL string) (gatewayMem, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return gatewayMem{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return gatewayMem{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return gatewayMem{}, fmt.Errorf("GET %s: %s", metricsURL, resp.Status)
	}
	return parseMem(resp.Body)
}

func parseMem(r io.Reader) (gatewayMem, error) {
	var m gatewayMem
	found := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		var dst *float64
		switch name {
		case "process_resident_memory_bytes":
			dst, found = &m.RSS, true
		case "go_memstats_heap_inuse_bytes":
			dst = &m.HeapInuse
		case "go_goroutines":
			dst = &m.Goroutines
		case "process_cpu_seconds_total":
			dst = &m.CPUSeconds
		default:
			continue
		}
		fields := strings.Fields(val) // value, then an optional timestamp
		if len(fields) == 0 {
			return m, fmt.Errorf("metric %s: no value", name)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return m, fmt.Errorf("metric %s: %w", name, err)
		}
		*dst = v
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if !found {
		return m, fmt.Errorf("no process_resident_memory_bytes in the metrics")
	}
	return m, nil
}

// raiseFDLimit lifts the soft RLIMIT_NOFILE to the hard limit and reports
// the result; it fails when even the hard limit is below need.
func raiseFDLimit(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	if lim.Cur < need {
		return lim.Cur, fmt.Errorf("open-file limit %d is below the %d needed; raise it with `ulimit -n %d` (hard limit) first", lim.Cur, need, need)
	}
	return lim.Cur, nil
}

// runIdle opens the sessions, holds them, measures and closes them.
func runIdle(ctx context.Context, cfg idleConfig) (idleReport, error) {
	if cfg.Sessions <= 0 {
		return idleReport{}, fmt.Errorf("--idle must be positive")
	}
	if err := checkLoopback(cfg.URL); err != nil {
		return idleReport{}, err
	}
	if cfg.MetricsURL == "" {
		u, err := metricsURLFor(cfg.URL)
		if err != nil {
			return idleReport{}, err
		}
		cfg.MetricsURL = u
	}
	if err := checkLoopback(cfg.MetricsURL); err != nil {
		return idleReport{}, err
	}
	if cfg.DialConcurrency <= 0 {
		cfg.DialConcurrency = 64
	}
	r := idleReport{URL: cfg.URL, MetricsURL: cfg.MetricsURL, Requested: cfg.Sessions, HoldSecs: cfg.Hold.Seconds()}
	var err error
	if r.FDLimit, err = raiseFDLimit(uint64(cfg.Sessions) + 64); err != nil {
		return r, err
	}
	if r.Before, err = scrapeMem(ctx, cfg.MetricsURL); err != nil {
		return r, err
	}

	// Small buffers: the client's memory is not what is measured, but it
	// shares the machine.
	d := benchDialer(1024)
	conns := make([]*websocket.Conn, cfg.Sessions)
	var dropped atomic.Int64
	var readers sync.WaitGroup
	t0 := time.Now()
	failed, first := dialAll(ctx, cfg.Sessions, cfg.DialConcurrency, func(i int) error {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		c, _, err := dialBench(dctx, d, cfg.URL, nil)
		if err != nil {
			return err
		}
		conns[i] = c.ws
		// Read (and so answer the gateway's pings) until closed.
		readers.Go(func() {
			for {
				if _, _, err := c.ws.ReadMessage(); err != nil {
					if ctx.Err() == nil && !isLocalClose(err) {
						dropped.Add(1)
					}
					return
				}
			}
		})
		return nil
	})
	r.DialSecs = time.Since(t0).Seconds()
	r.Failed, r.Open = failed, cfg.Sessions-failed
	if first != nil {
		r.FirstError = first.Error()
	}
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bench done"), time.Now().Add(time.Second))
				c.Close()
			}
		}
		readers.Wait()
	}()
	if r.Open == 0 {
		return r, fmt.Errorf("no session could connect to %s: %w", cfg.URL, first)
	}

	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(cfg.Hold):
	}
	if r.After, err = scrapeMem(ctx, cfg.MetricsURL); err != nil {
		return r, err
	}
	r.Dropped = dropped.Load()
	n := float64(r.Open)
	r.RSSPerSession = (r.After.RSS - r.Before.RSS) / n
	if r.After.HeapInuse > 0 {
		r.HeapPerSession = (r.After.HeapInuse - r.Before.HeapInuse) / n
	}
	if r.After.Goroutines > 0 {
		r.GoroutinesPerSession = (r.After.Goroutines - r.Before.Goroutines) / n
	}
	return r, nil
}

func isLocalClose(err error) bool {
	return strings.Contains(err.Error(), "use of closed network connection")
}

func (r idleReport) writeTable(w io.Writer) {
	kib := func(b float64) float64 { return b / 1024 }
	mib := func(b float64) float64 { return b / (1 << 20) }
	fmt.Fprintf(w, "target      %s (metrics %s)\n", r.URL, r.MetricsURL)
	fmt.Fprintf(w, "sessions    %d open of %d (failed %d, dropped during hold %d), dialled in %.1fs, held %.0fs, fd limit %d\n",
		r.Open, r.Requested, r.Failed, r.Dropped, r.DialSecs, r.HoldSecs, r.FDLimit)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error %s\n", r.FirstError)
	}
	fmt.Fprintf(w, "gateway RSS %.1f MiB → %.1f MiB: %.1f KiB per session\n",
		mib(r.Before.RSS), mib(r.After.RSS), kib(r.RSSPerSession))
	if r.After.HeapInuse > 0 {
		fmt.Fprintf(w, "Go heap     %.1f MiB → %.1f MiB in use: %.1f KiB per session\n",
			mib(r.Before.HeapInuse), mib(r.After.HeapInuse), kib(r.HeapPerSession))
	}
	if r.After.Goroutines > 0 {
		fmt.Fprintf(w, "goroutines  %.0f → %.0f: %.1f per session\n", r.Before.Goroutines, r.After.Goroutines, r.GoroutinesPerSession)
	}
}
