package ollama

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the package's Prometheus collectors; a nil *metrics records
// nothing, so every method is safe to call on nil.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	hostFails  *prometheus.CounterVec
	running    prometheus.Gauge
	waiting    prometheus.Gauge
	modelReady *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moodgate_ollama_requests_total",
			Help: "Ollama requests by operation (classify, reply, show) and outcome.",
		}, []string{"op", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "moodgate_ollama_request_seconds",
			Help:    "Duration of Ollama requests by operation, all outcomes.",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 1.5, 2.5, 5, 10, 30},
		}, []string{"op"}),
		hostFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moodgate_ollama_host_failures_total",
			Help: "Host failures that started a cool-down, by host.",
		}, []string{"host"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "moodgate_ollama_generations_running",
			Help: "Chat generations running now.",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "moodgate_ollama_generations_waiting",
			Help: "Chat generations waiting for a slot.",
		}),
		modelReady: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "moodgate_ollama_model_present",
			Help: "1 when the model was found by the last /api/show check.",
		}, []string{"model"}),
	}
	var err error
	// A second Client on the same registerer shares the first one's
	// collectors instead of failing.
	reuse := func(c prometheus.Collector) prometheus.Collector {
		if err != nil {
			return c
		}
		if e := reg.Register(c); e != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(e, &are) {
				return are.ExistingCollector
			}
			err = e
		}
		return c
	}
	m.requests = reuse(m.requests).(*prometheus.CounterVec)
	m.duration = reuse(m.duration).(*prometheus.HistogramVec)
	m.hostFails = reuse(m.hostFails).(*prometheus.CounterVec)
	m.running = reuse(m.running).(prometheus.Gauge)
	m.waiting = reuse(m.waiting).(prometheus.Gauge)
	m.modelReady = reuse(m.modelReady).(*prometheus.GaugeVec)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) observe(op, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(op, outcome).Inc()
	m.duration.WithLabelValues(op).Observe(d.Seconds())
}

func (m *metrics) hostFailed(host string) {
	if m == nil {
		return
	}
	m.hostFails.WithLabelValues(host).Inc()
}

func (m *metrics) addRunning(d float64) {
	if m != nil {
		m.running.Add(d)
	}
}

func (m *metrics) addWaiting(d float64) {
	if m != nil {
		m.waiting.Add(d)
	}
}

func (m *metrics) modelPresent(model string, present bool) {
	if m == nil {
		return
	}
	v := 0.0
	if present {
		v = 1
	}
	m.modelReady.WithLabelValues(model).Set(v)
}
