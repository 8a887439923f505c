package entrance

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golinkis/golinkis/manager"
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

	depthDesc, runningDesc, liveDesc *prometheus.Desc
}

func newMetrics(e *Entrance) *metrics {
	lat := prometheus.ExponentialBuckets(0.001, 4, 10) // 1 ms .. ~4.4 min
	return &metrics{
		e: e,
		submitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "linkis_entrance_jobs_submitted_total", Help: "Jobs accepted through this member (committed and queued).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkis_entrance_jobs_rejected_total", Help: "Submissions refused, by reason (queue_full, permission, labels, invalid, unavailable).",
		}, []string{"reason"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkis_entrance_jobs_ended_total", Help: "Jobs this member's dispatcher ran to a final state, by state.",
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

// Collect implements prometheus.Collector for the scrape-time gauges,
// read from this member's state.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	var groups []manager.JobGroupInfo
	var live [orchestrator.Timeout + 1]int
	_ = m.e.store.Read(context.Background(), false, func(s *manager.State) {
		groups = s.JobGroups()
		live = s.LiveJobStates()
	})
	type gs struct{ queued, running int }
	byName := make(map[string]*gs, len(groups))
	var names []string
	for _, g := range groups {
		// Groups whose names coincide share one series.
		x := byName[g.Name]
		if x == nil {
			x = &gs{}
			byName[g.Name] = x
			names = append(names, g.Name)
		}
		x.queued += g.Queued
		x.running += g.Running
		live[orchestrator.Inited] += g.Queued
	}
	for _, n := range names {
		ch <- prometheus.MustNewConstMetric(m.depthDesc, prometheus.GaugeValue, float64(byName[n].queued), n)
		ch <- prometheus.MustNewConstMetric(m.runningDesc, prometheus.GaugeValue, float64(byName[n].running), n)
	}
	for s := orchestrator.Inited; s <= orchestrator.Running; s++ {
		ch <- prometheus.MustNewConstMetric(m.liveDesc, prometheus.GaugeValue, float64(live[s]), s.String())
	}
}

// Collectors returns the entrance's Prometheus collectors, to register in
// the caller's registry (the entrance registers nothing globally):
// linkis_entrance_queue_depth{group}, linkis_entrance_running{group},
// linkis_entrance_jobs{state} (live states), linkis_entrance_jobs_ended_total{state},
// linkis_entrance_jobs_submitted_total, linkis_entrance_jobs_rejected_total{reason},
// and the histograms linkis_entrance_queue_wait_seconds, _run_seconds and
// _job_seconds (submission to end). The gauges are this member's view of
// the replicated queues; the histograms and the ended counter count the
// jobs this member's dispatcher ran (the leader's, for its terms).
func (e *Entrance) Collectors() []prometheus.Collector {
	m := e.m
	return []prometheus.Collector{m, m.submitted, m.rejected, m.ended, m.queueWait, m.runTime, m.total}
}

// Registry returns a new registry holding Collectors().
func (e *Entrance) Registry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(e.Collectors()...)
	return r
}
