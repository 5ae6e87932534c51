package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

func init() { register("bench", "load-test a running gateway", runBench) }

const benchUsage = `usage: moodgate bench [flags]

Load-tests a gateway on this machine over its WebSocket protocol.

  load     --url ws://127.0.0.1:8080/ws --sessions N --rate R --duration D [--warmup W]
           R is messages/s over all sessions; --rate 0 is a closed loop (each
           session sends its next message when the previous one's reply came).
  echo     --baseline-echo: the same load against a bare in-process
           WebSocket echo server instead of --url.
  compare  --compare: the gateway at --url, then the echo baseline, and the
           ratios of their throughputs and p99s.
  sweep    --sweep 500,1000,2000 [--svg docs/latency.svg]: open-loop steps
           against the gateway and the echo baseline; the chart plots p50 and
           p99 send→reply latency against offered load.
  idle     --idle N [--hold 30s] [--metrics URL]: N sessions that only stay
           connected; reports the gateway's resident memory per session.

The gateway limits messages per session (MOODGATE_MESSAGE_RATE, default 5/s,
MOODGATE_MESSAGE_BURST, default 10) and connections per address
(MOODGATE_MAX_CONNS_PER_IP, default 50); start it with higher limits for
throughput runs, e.g. MOODGATE_MESSAGE_RATE=1000 MOODGATE_MESSAGE_BURST=1000
MOODGATE_MAX_CONNS_PER_IP=20000.

flags:
`

// runBench is the bench command.
func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	var (
		cfg        loadConfig
		seed       int64
		asJSON     bool
		echoOnly   bool
		compare    bool
		sweep      string
		svgPath    string
		idle       int
		hold       time.Duration
		metricsURL string
	)
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:8080/ws", "gateway WebSocket URL (loopback only)")
	fs.IntVar(&cfg.Sessions, "sessions", 50, "concurrent sessions")
	fs.Float64Var(&cfg.Rate, "rate", 0, "messages/s over all sessions, open loop; 0 is a closed loop")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured duration (per step with --sweep)")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "load before the measurement starts, not counted")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "how long a message may wait for its reply")
	fs.Float64Var(&cfg.NegShare, "negative-share", 0.15, "share of sad and angry lines (never three in a row)")
	fs.Float64Var(&cfg.CrisisShare, "crisis-share", 0, "share of crisis lines; each escalates its session, which then starts over")
	fs.IntVar(&cfg.DialConcurrency, "dial-concurrency", 64, "dials in flight")
	fs.Int64Var(&seed, "seed", 0, "random seed for the lines (0: from the clock)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object instead of a table")
	fs.BoolVar(&echoOnly, "baseline-echo", false, "load the in-process echo baseline instead of --url")
	fs.BoolVar(&compare, "compare", false, "run the gateway at --url and the echo baseline and print their ratios")
	fs.StringVar(&sweep, "sweep", "", "comma-separated offered rates (msg/s) for an open-loop sweep of gateway and echo")
	fs.StringVar(&svgPath, "svg", "", "with --sweep: write the latency chart here")
	fs.IntVar(&idle, "idle", 0, "open this many idle sessions and report gateway memory per session")
	fs.DurationVar(&hold, "hold", 20*time.Second, "with --idle: how long to hold the sessions before measuring")
	fs.StringVar(&metricsURL, "metrics", "", "gateway metrics URL (default: derived from --url)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Seed = uint64(seed)
	if metricsURL == "" {
		if u, err := metricsURLFor(cfg.URL); err == nil {
			metricsURL = u
		}
	}
	out := os.Stdout

	switch {
	case idle > 0:
		r, err := runIdle(ctx, idleConfig{URL: cfg.URL, MetricsURL: metricsURL, Sessions: idle, Hold: hold, DialConcurrency: cfg.DialConcurrency})
		if err != nil {
			return err
		}
		return emit(out, asJSON, r, r.writeTable)
	case sweep != "":
		cfg.MetricsURL = metricsURL
		rates, err := parseRates(sweep)
		if err != nil {
			return err
		}
		return runSweep(ctx, out, cfg, rates, svgPath, asJSON)
	case compare:
		cfg.MetricsURL = metricsURL
		res, err := runCompare(ctx, cfg)
		if err != nil {
			return err
		}
		return emit(out, asJSON, res, res.writeTable)
	case echoOnly:
		r, err := runEcho(ctx, cfg)
		if err != nil {
			return err
		}
		return emit(out, asJSON, r, r.writeTable)
	default:
		cfg.MetricsURL = metricsURL
		r, err := runLoad(ctx, cfg, "gateway")
		if err != nil {
			return err
		}
		return emit(out, asJSON, r, r.writeTable)
	}
}

// emit prints v as JSON or as a table.
func emit(w io.Writer, asJSON bool, v any, table func(io.Writer)) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	table(w)
	return nil
}

// runEcho runs cfg against a fresh in-process echo baseline.
func runEcho(ctx context.Context, cfg loadConfig) (benchReport, error) {
	e, err := startEchoServer()
	if err != nil {
		return benchReport{}, err
	}
	defer e.Close()
	cfg.URL, cfg.MetricsURL = e.URL, ""
	return runLoad(ctx, cfg, "echo")
}

// compareResult is a --compare run.
type compareResult struct {
	Gateway benchReport `json:"gateway"`
	Echo    benchReport `json:"echo"`
	// ThroughputRatio is gateway/echo throughput; P99Ratio is gateway/echo
	// p99 send→reply latency.
	ThroughputRatio float64 `json:"throughput_ratio"`
	P99Ratio        float64 `json:"p99_reply_ratio"`
}

func runCompare(ctx context.Context, cfg loadConfig) (compareResult, error) {
	var res compareResult
	var err error
	if res.Gateway, err = runLoad(ctx, cfg, "gateway"); err != nil {
		return res, err
	}
	if res.Echo, err = runEcho(ctx, cfg); err != nil {
		return res, err
	}
	res.ThroughputRatio = ratio(res.Gateway.Throughput, res.Echo.Throughput)
	res.P99Ratio = ratio(res.Gateway.Reply.P99, res.Echo.Reply.P99)
	return res, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(a/b*1000) / 1000
}

func (c compareResult) writeTable(w io.Writer) {
	c.Gateway.writeTable(w)
	fmt.Fprintln(w)
	c.Echo.writeTable(w)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "gateway/echo  throughput %.1f / %.1f = %.3f   p99 send→reply %.3f / %.3f ms = %.3f\n",
		c.Gateway.Throughput, c.Echo.Throughput, c.ThroughputRatio, c.Gateway.Reply.P99, c.Echo.Reply.P99, c.P99Ratio)
}

// parseRates reads "500,1000,2000" (a leading "rates=" is accepted).
func parseRates(s string) ([]float64, error) {
	s = strings.TrimPrefix(s, "rates=")
	var rates []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 || math.IsInf(r, 0) {
			return nil, fmt.Errorf("--sweep: %q is not a positive rate", f)
		}
		rates = append(rates, r)
	}
	if len(rates) > 20 {
		return nil, fmt.Errorf("--sweep: at most 20 steps")
	}
	return rates, nil
}
