package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// sweepStep is one offered rate, measured against the gateway and the echo
// baseline with the same sessions, warm-up and duration.
type sweepStep struct {
	Rate    float64     `json:"offered_rate"`
	Gateway benchReport `json:"gateway"`
	Echo    benchReport `json:"echo"`
}

// runSweep measures each rate in turn, gateway first, then echo, and writes
// the table (or JSON) and, with svgPath, the chart.
func runSweep(ctx context.Context, w io.Writer, cfg loadConfig, rates []float64, svgPath string, asJSON bool) error {
	echo, err := startEchoServer()
	if err != nil {
		return err
	}
	defer echo.Close()
	var steps []sweepStep
	for _, rate := range rates {
		c := cfg
		c.Rate = rate
		st := sweepStep{Rate: rate}
		if st.Gateway, err = runLoad(ctx, c, "gateway"); err != nil {
			return fmt.Errorf("sweep at %g msg/s, gateway: %w", rate, err)
		}
		pause(ctx, time.Second)
		c.URL, c.MetricsURL = echo.URL, ""
		if st.Echo, err = runLoad(ctx, c, "echo"); err != nil {
			return fmt.Errorf("sweep at %g msg/s, echo: %w", rate, err)
		}
		pause(ctx, time.Second)
		steps = append(steps, st)
		slog.Info("bench: sweep step done", "rate", rate,
			"gateway_throughput", st.Gateway.Throughput, "echo_throughput", st.Echo.Throughput)
	}
	if svgPath != "" {
		if err := writeSweepSVG(svgPath, cfg, steps); err != nil {
			return err
		}
	}
	if asJSON {
		return emit(w, true, struct {
			Steps []sweepStep `json:"steps"`
			SVG   string      `json:"svg,omitempty"`
		}{steps, svgPath}, nil)
	}
	writeSweepTable(w, cfg, steps)
	if svgPath != "" {
		fmt.Fprintf(w, "chart       %s\n", svgPath)
	}
	return nil
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func writeSweepTable(w io.Writer, cfg loadConfig, steps []sweepStep) {
	fmt.Fprintf(w, "open-loop sweep: %d sessions, %s warm-up + %s per step; latencies from the intended send time\n",
		cfg.Sessions, cfg.Warmup, cfg.Duration)
	fmt.Fprintln(w, "replied: reply or escalation; refused: an error frame for the message (busy, rate_limited, …); "+
		"abandon: in flight on a session that escalated")
	fmt.Fprintf(w, "%8s  %-8s %9s %7s %7s %7s %7s %7s %9s %9s %9s  %s\n",
		"offered", "target", "done/s", "sent", "replied", "refused", "abandon", "timeout", "p50 ms", "p99 ms", "max ms", "errors")
	for _, st := range steps {
		for _, r := range []benchReport{st.Gateway, st.Echo} {
			fmt.Fprintf(w, "%8.0f  %-8s %9.1f %7d %7d %7d %7d %7d %9.3f %9.3f %9.3f  %s\n",
				st.Rate, r.Target, r.Throughput, r.Sent, r.Replies+r.Escalations, r.Errored, r.Abandoned, r.TimedOut,
				r.Reply.P50, r.Reply.P99, r.Reply.Max, formatCounts(r.Errors))
		}
	}
}

func writeSweepSVG(path string, cfg loadConfig, steps []sweepStep) error {
	series := []svgSeries{
		{Name: "gateway p99", Color: "#c0392b"},
		{Name: "gateway p50", Color: "#c0392b", Dashed: true},
		{Name: "echo p99", Color: "#2471a3"},
		{Name: "echo p50", Color: "#2471a3", Dashed: true},
	}
	for _, st := range steps {
		series[0].Points = append(series[0].Points, svgPoint{st.Rate, st.Gateway.Reply.P99})
		series[1].Points = append(series[1].Points, svgPoint{st.Rate, st.Gateway.Reply.P50})
		series[2].Points = append(series[2].Points, svgPoint{st.Rate, st.Echo.Reply.P99})
		series[3].Points = append(series[3].Points, svgPoint{st.Rate, st.Echo.Reply.P50})
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("moodgate send→reply latency, %d sessions, %s per step", cfg.Sessions, cfg.Duration)
	target := svgRef{Y: 10, Label: "target: p99 ≤ 10 ms at 1,000 msg/s"}
	if err := writeLatencySVG(f, title, series, target); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
