package entrance

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/golinkis/golinkis/orchestrator"
)

// metrics are the entrance's Prometheus metrics. Per-group gauges are
// read from the queues at scrape time (no cost per job, and a group that
// empties leaves no series behind).
type metrics struct {
	e         *Entrance
	submitted prometheus.Counter
	rejected  *prometheus.CounterVec
	ended     *prometheus.CounterVec
	queueWait prometheus.Histogram
	runTime   prometheus.Histogram
	total     prometheus.Histogram
	dispatch  prometheus.Histogram

	depthDesc, runningDesc, liveDesc *prometheus.Desc
}

func newMetrics(e *Entrance) *metrics {
	lat := prometheus.ExponentialBuckets(0.001, 4, 10) // 1 ms .. ~4.4 min
	return &metrics{
		e: e,
		submitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "linkis_entrance_jobs_submitted_total", Help: "Jobs accepted (persisted and queued).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkis_entrance_jobs_rejected_total", Help: "Submissions refused, by reason (queue_full, permission, labels, invalid, unavailable).",
		}, []string{"reason"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkis_entrance_jobs_ended_total", Help: "Jobs that reached a final state, by state.",
		}, []string{"state"}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "linkis_entrance_queue_wait_seconds", Help: "Time jobs waited in their queue before dispatch.", Buckets: lat,
		}),
		runTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "linkis_entrance_run_seconds", Help: "Time from dispatch to a job's final state.", Buckets: lat,
		}),
		total: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "linkis_entrance_job_seconds", Help: "Time from submission to a job's final state.", Buckets: lat,
		}),
		dispatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "linkis_entrance_dispatch_seconds", Help: "Entrance overhead: from leaving the queue to the runner being called.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10), // 1 µs .. ~0.26 s
		}),
		depthDesc:   prometheus.NewDesc("linkis_entrance_queue_depth", "Jobs waiting in a consumer group's queue.", []string{"group"}, nil),
		runningDesc: prometheus.NewDesc("linkis_entrance_running", "Jobs of a consumer group holding a running slot.", []string{"group"}, nil),
		liveDesc:    prometheus.NewDesc("linkis_entrance_jobs", "Jobs not yet ended, by state.", []string{"state"}, nil),
	}
}

// Describe implements prometheus.Collector for the scrape-time gauges.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.depthDesc
	ch <- m.runningDesc
	ch <- m.liveDesc
}

// Collect implements prometheus.Collector for the scrape-time gauges.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	type gs struct {
		name            string
		queued, running int
	}
	m.e.mu.Lock()
	groups := make([]gs, 0, len(m.e.groups))
	at := make(map[string]int, len(m.e.groups))
	for _, g := range m.e.groups {
		// Groups whose names coincide share one series.
		if i, ok := at[g.name]; ok {
			groups[i].queued += g.queued
			groups[i].running += g.running
			continue
		}
		at[g.name] = len(groups)
		groups = append(groups, gs{g.name, g.queued, g.running})
	}
	m.e.mu.Unlock()
	for _, g := range groups {
		ch <- prometheus.MustNewConstMetric(m.depthDesc, prometheus.GaugeValue, float64(g.queued), g.name)
		ch <- prometheus.MustNewConstMetric(m.runningDesc, prometheus.GaugeValue, float64(g.running), g.name)
	}
	for s := orchestrator.Inited; s <= orchestrator.Running; s++ {
		ch <- prometheus.MustNewConstMetric(m.liveDesc, prometheus.GaugeValue, float64(m.e.states[s].Load()), s.String())
	}
}

// Collectors returns the entrance's Prometheus collectors, to register in
// the caller's registry (the entrance registers nothing globally):
// linkis_entrance_queue_depth{group}, linkis_entrance_running{group},
// linkis_entrance_jobs{state} (live states), linkis_entrance_jobs_ended_total{state},
// linkis_entrance_jobs_submitted_total, linkis_entrance_jobs_rejected_total{reason},
// and the histograms linkis_entrance_queue_wait_seconds, _run_seconds,
// _job_seconds (submission to end) and _dispatch_seconds (entrance
// overhead).
func (e *Entrance) Collectors() []prometheus.Collector {
	m := e.m
	return []prometheus.Collector{m, m.submitted, m.rejected, m.ended, m.queueWait, m.runTime, m.total, m.dispatch}
}

// Registry returns a new registry holding Collectors().
func (e *Entrance) Registry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(e.Collectors()...)
	return r
}
