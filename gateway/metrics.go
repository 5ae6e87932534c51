package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	connections *prometheus.GaugeVec
	disconnects *prometheus.CounterVec
	messages    *prometheus.CounterVec
	refused     *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	escalations *prometheus.CounterVec
	replies     *prometheus.CounterVec
	recovered   prometheus.Counter
	// catchUpOverflows counts dashboard catch-ups that dropped live events
	// (more than the send queue cap arrived meanwhile) and read them again.
	catchUpOverflows prometheus.Counter
	upgrades         *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "moodgate_ws_connections", Help: "Open WebSocket connections."}, []string{"kind"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "moodgate_ws_disconnects_total", Help: "Closed WebSocket connections by reason."}, []string{"kind", "reason"}),
		messages:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "moodgate_messages_total", Help: "User messages by outcome."}, []string{"outcome"}),
		refused:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "moodgate_frames_refused_total", Help: "Client frames refused, by error code."}, []string{"code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "moodgate_message_seconds", Help: "Time from reading a user message to each stage.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"stage"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "moodgate_escalations_total", Help: "Escalations opened, by reason."}, []string{"reason"}),
		replies:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "moodgate_replies_total", Help: "Bot replies by responder and outcome."}, []string{"responder", "outcome"}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{Name: "moodgate_replies_recovered_total",
			Help: "Owed bot replies (their node died while streaming them) answered on the user's reconnect."}),
		catchUpOverflows: prometheus.NewCounter(prometheus.CounterOpts{Name: "moodgate_operator_catchup_overflows_total",
			Help: "Dashboard catch-ups whose buffer of live events overflowed; the events were read again from Redis."}),
		upgrades: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "moodgate_ws_upgrades_total", Help: "WebSocket upgrade attempts by outcome."}, []string{"kind", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.disconnects, m.messages, m.refused, m.latency, m.escalations, m.replies, m.recovered, m.catchUpOverflows, m.upgrades)
	}
	return m
}

// NewRegistry returns a registry with the Go runtime and process collectors,
// whose process_resident_memory_bytes the load tool reads.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
