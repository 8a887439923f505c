package ecm

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are an ECM's own (one registry per ECM, served at /metrics).
type metrics struct {
	reg      *prometheus.Registry
	launches prometheus.Counter
	refused  *prometheus.CounterVec
	exits    *prometheus.CounterVec
	startup  prometheus.Histogram
}

func newMetrics(m *ECM) *metrics {
	mt := &metrics{
		reg: prometheus.NewRegistry(),
		launches: prometheus.NewCounter(prometheus.CounterOpts{Name: "linkis_ecm_launches_total",
			Help: "Engine processes started (a repeated launch of a ticket is not counted)."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "linkis_ecm_launches_refused_total",
			Help: "Launch requests refused, by reason."}, []string{"reason"}),
		exits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "linkis_ecm_engine_exits_total",
			Help: "Engine processes that ended, by outcome."}, []string{"outcome"}),
		startup: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "linkis_ecm_engine_start_seconds",
			Help:    "From launch to the engine serving (its address written).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
	}
	engines := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "linkis_ecm_engines",
		Help: "Engines this ECM runs, by state."}, []string{"state"})
	mt.reg.MustRegister(mt.launches, mt.refused, mt.exits, mt.startup, collectFunc(func(ch chan<- prometheus.Metric) {
		m.mu.Lock()
		var starting, running int
		for _, e := range m.engines {
			switch e.state {
			case stateStarting:
				starting++
			case stateRunning:
				running++
			}
		}
		m.mu.Unlock()
		engines.WithLabelValues("starting").Set(float64(starting))
		engines.WithLabelValues("running").Set(float64(running))
		engines.Collect(ch)
	}))
	return mt
}

func (mt *metrics) exit(failed bool, killed bool) {
	switch {
	case killed:
		mt.exits.WithLabelValues("killed").Inc()
	case failed:
		mt.exits.WithLabelValues("failed").Inc()
	default:
		mt.exits.WithLabelValues("clean").Inc()
	}
}

func (mt *metrics) served(since time.Time) { mt.startup.Observe(time.Since(since).Seconds()) }

// collectFunc is a collector computed at scrape time.
type collectFunc func(chan<- prometheus.Metric)

func (f collectFunc) Describe(ch chan<- *prometheus.Desc) {}
func (f collectFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }
