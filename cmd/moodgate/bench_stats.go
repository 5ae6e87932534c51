package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// samples holds exact latency samples. A run of a few minutes at a few
// thousand messages per second keeps a few million int64s, so exact
// percentiles are affordable and need no histogram error bounds.
type samples []time.Duration

// latencySummary is the published summary of one latency, in milliseconds.
type latencySummary struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// percentile returns the nearest-rank percentile of sorted samples: the
// smallest sample such that at least p percent of all samples are ≤ it.
func percentile(sorted samples, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// summarize sorts s in place and summarizes it.
func summarize(s samples) latencySummary {
	if len(s) == 0 {
		return latencySummary{}
	}
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return latencySummary{
		Count: len(s),
		Mean:  ms(sum / time.Duration(len(s))),
		P50:   ms(percentile(s, 50)),
		P90:   ms(percentile(s, 90)),
		P99:   ms(percentile(s, 99)),
		Max:   ms(s[len(s)-1]),
	}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// tally is one session's counts and samples; sessions keep their own and
// the run merges them at the end, so recording takes no lock.
type tally struct {
	// Counts of measured messages: those whose intended send time fell in
	// the measurement window (after the warm-up).
	sent, acked, emotions, replies, escalated, errored, timedOut, abandoned int64
	// completedInWindow counts terminal events (reply or escalation)
	// received inside the measurement window, whatever the message's send
	// time; it is the throughput's numerator.
	completedInWindow   int64
	reconnects          int64
	restarts            int64
	errs                map[string]int64
	notices             map[string]int64 // replies with a notice ("busy", "degraded")
	ack, emotion, reply samples
}

func newTally() *tally { return &tally{errs: map[string]int64{}, notices: map[string]int64{}} }

func (t *tally) merge(o *tally) {
	t.sent += o.sent
	t.acked += o.acked
	t.emotions += o.emotions
	t.replies += o.replies
	t.escalated += o.escalated
	t.errored += o.errored
	t.timedOut += o.timedOut
	t.abandoned += o.abandoned
	t.completedInWindow += o.completedInWindow
	t.reconnects += o.reconnects
	t.restarts += o.restarts
	for k, v := range o.errs {
		t.errs[k] += v
	}
	for k, v := range o.notices {
		t.notices[k] += v
	}
	t.ack = append(t.ack, o.ack...)
	t.emotion = append(t.emotion, o.emotion...)
	t.reply = append(t.reply, o.reply...)
}

// benchReport is the result of one load run.
type benchReport struct {
	Target   string  `json:"target"` // "gateway" or "echo"
	URL      string  `json:"url"`
	Sessions int     `json:"sessions"`
	Mode     string  `json:"mode"` // "open" or "closed"
	Rate     float64 `json:"offered_rate"`
	Warmup   float64 `json:"warmup_s"`
	Duration float64 `json:"duration_s"`

	Sent        int64 `json:"sent"`
	Acked       int64 `json:"acked"`
	Emotions    int64 `json:"emotions"`
	Replies     int64 `json:"replies"`
	Escalations int64 `json:"escalations"`
	Errored     int64 `json:"errored"`
	TimedOut    int64 `json:"timed_out"`
	Abandoned   int64 `json:"abandoned"`
	Completed   int64 `json:"completed_in_window"`
	// Throughput is terminal events (reply or escalation) received in the
	// measurement window per second of window.
	Throughput float64 `json:"throughput"`

	Ack     latencySummary `json:"send_to_ack"`
	Emotion latencySummary `json:"send_to_emotion"`
	Reply   latencySummary `json:"send_to_reply"`

	Errors     map[string]int64 `json:"errors"`
	Notices    map[string]int64 `json:"reply_notices"`
	Reconnects int64            `json:"reconnects"`
	Restarts   int64            `json:"restarts"`
	CPU        cpuUse           `json:"cpu"`
	Note       string           `json:"note"`
}

func (t *tally) report(cfg loadConfig, target string) benchReport {
	r := benchReport{
		Target:      target,
		URL:         cfg.URL,
		Sessions:    cfg.Sessions,
		Mode:        "closed",
		Rate:        cfg.Rate,
		Warmup:      cfg.Warmup.Seconds(),
		Duration:    cfg.Duration.Seconds(),
		Sent:        t.sent,
		Acked:       t.acked,
		Emotions:    t.emotions,
		Replies:     t.replies,
		Escalations: t.escalated,
		Errored:     t.errored,
		TimedOut:    t.timedOut,
		Abandoned:   t.abandoned,
		Completed:   t.completedInWindow,
		Ack:         summarize(t.ack),
		Emotion:     summarize(t.emotion),
		Reply:       summarize(t.reply),
		Errors:      maps.Clone(t.errs),
		Notices:     maps.Clone(t.notices),
		Reconnects:  t.reconnects,
		Restarts:    t.restarts,
		Note: "timed-out messages count in send→reply with the time waited; " +
			"closed loop: each session sends its next message when the previous one's reply " +
			"(or escalation) arrived; latencies are measured from the actual send",
	}
	if cfg.Rate > 0 {
		r.Mode = "open"
		r.Note = "timed-out messages count in send→reply with the time waited; " +
			"open loop: messages are sent on a fixed schedule and every latency is measured " +
			"from the message's intended send time, not the actual one, so a stalled gateway " +
			"or client shows up as latency (no coordinated omission)"
	}
	if cfg.Duration > 0 {
		r.Throughput = math.Round(float64(t.completedInWindow)/cfg.Duration.Seconds()*10) / 10
	}
	return r
}

// writeTable prints r for people.
func (r benchReport) writeTable(w io.Writer) {
	rate := "closed loop"
	if r.Mode == "open" {
		rate = fmt.Sprintf("%.0f msg/s offered (open loop)", r.Rate)
	}
	fmt.Fprintf(w, "target      %s  %s\n", r.Target, r.URL)
	fmt.Fprintf(w, "load        %d sessions, %s, %.0fs warm-up + %.0fs measured\n",
		r.Sessions, rate, r.Warmup, r.Duration)
	fmt.Fprintf(w, "throughput  %.1f msg/s completed (%d replies/escalations in the window)\n",
		r.Throughput, r.Completed)
	fmt.Fprintf(w, "messages    sent %d  acked %d  emotion %d  reply %d  escalated %d  error %d  timeout %d  abandoned %d\n",
		r.Sent, r.Acked, r.Emotions, r.Replies, r.Escalations, r.Errored, r.TimedOut, r.Abandoned)
	fmt.Fprintf(w, "%-16s %8s %9s %9s %9s %9s %9s\n", "latency (ms)", "count", "mean", "p50", "p90", "p99", "max")
	for _, l := range []struct {
		name string
		s    latencySummary
	}{{"send→ack", r.Ack}, {"send→emotion", r.Emotion}, {"send→reply", r.Reply}} {
		fmt.Fprintf(w, "%-16s %8d %9.3f %9.3f %9.3f %9.3f %9.3f\n",
			l.name, l.s.Count, l.s.Mean, l.s.P50, l.s.P90, l.s.P99, l.s.Max)
	}
	fmt.Fprintf(w, "errors      %s\n", formatCounts(r.Errors))
	if len(r.Notices) > 0 {
		fmt.Fprintf(w, "notices     %s (replies that carry a notice)\n", formatCounts(r.Notices))
	}
	fmt.Fprintf(w, "reconnects  %d (resumed)  restarts %d (new session after an escalation)\n", r.Reconnects, r.Restarts)
	if r.CPU.Wall > 0 {
		fmt.Fprintf(w, "cpu         over %.1fs: load tool %.1fs (%.2f cores)", r.CPU.Wall, r.CPU.Client, r.CPU.Client/r.CPU.Wall)
		if r.Target == "echo" {
			fmt.Fprint(w, ", echo server included")
		}
		if r.CPU.Gateway > 0 {
			fmt.Fprintf(w, ", gateway %.1fs (%.2f cores)", r.CPU.Gateway, r.CPU.Gateway/r.CPU.Wall)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "note        %s\n", r.Note)
}

func formatCounts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
