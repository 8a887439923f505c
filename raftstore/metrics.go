package raftstore

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// metrics are one store's Prometheus metrics, in a registry of its own so
// that several stores can live in one process (tests, the embedded
// system).
type metrics struct {
	reg      *prometheus.Registry
	commit   prometheus.Histogram   // proposal → result, as the proposer sees it
	apply    prometheus.Histogram   // applying one log entry on this replica
	batch    prometheus.Histogram   // commands per log entry
	appends  prometheus.Histogram   // appending entries to this member's log (write and sync)
	asks     *prometheus.CounterVec // by outcome and, for refusals, the error kind
	commands *prometheus.CounterVec // applied commands by type and result

	// The counters every command touches, looked up once: a label lookup
	// per command cost half as much as applying the command.
	ok                      map[manager.CommandType]prometheus.Counter
	reused, created, queued prometheus.Counter
}

func newMetrics(rep *replica) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "linkis_commit_seconds", Help: "Time from proposing a command to its applied result, as the proposer sees it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "linkis_apply_seconds", Help: "Time to apply one log entry to the manager state on this replica.",
			Buckets: prometheus.ExponentialBuckets(0.000001, 4, 12),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "linkis_batch_commands", Help: "Commands carried by one log entry (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		appends: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "linkis_raft_append_seconds", Help: "Time to append entries to this member's Raft log, write and sync (the leader's own, or a follower's).",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
		asks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkis_asks_total", Help: "Engine asks by outcome: reused, created, queued, failed later, refused (with the error kind).",
		}, []string{"outcome", "kind"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkis_commands_total", Help: "Commands applied on this replica, by type and result (ok or the error kind).",
		}, []string{"type", "result"}),
	}
	m.ok = map[manager.CommandType]prometheus.Counter{}
	for _, t := range manager.CommandTypes() {
		m.ok[t] = m.commands.WithLabelValues(t.String(), "ok")
	}
	m.reused, m.created, m.queued = m.asks.WithLabelValues("reused", ""), m.asks.WithLabelValues("created", ""), m.asks.WithLabelValues("queued", "")
	m.reg.MustRegister(m.commit, m.apply, m.batch, m.appends, m.asks, m.commands, &stateCollector{rep: rep},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) applied(cmd manager.Command, o outcome) {
	typ := cmd.Type()
	if o.err != nil {
		kind := api.BodyOf(o.err).Kind
		m.commands.WithLabelValues(typ.String(), kind).Inc()
		if typ == manager.CmdAskEngine {
			m.asks.WithLabelValues("refused", kind).Inc()
		}
		return
	}
	if c := m.ok[typ]; c != nil {
		c.Inc()
	} else {
		m.commands.WithLabelValues(typ.String(), "ok").Inc()
	}
	if typ == manager.CmdAskEngine {
		switch a := o.res.Ask; {
		case a.Status == manager.AskGranted:
			m.reused.Inc()
		case a.Created:
			m.created.Inc()
		default:
			m.queued.Inc()
		}
	}
	for _, n := range o.res.Notices {
		if n.Status == manager.AskFailed {
			kind := "internal"
			var le *linkis.Error
			if errors.As(n.Err, &le) {
				kind = api.BodyOf(le).Kind
			}
			m.asks.WithLabelValues("failed", kind).Inc()
		}
	}
}

// stateCollector reads the ledger and node statuses at scrape time, so
// that applying a command costs nothing for them.
type stateCollector struct{ rep *replica }

var (
	descECM = prometheus.NewDesc("linkis_ecm_resource", "Ledger of each ECM: max, used and locked per dimension.",
		[]string{"ecm", "kind", "dim"}, nil)
	descLabel = prometheus.NewDesc("linkis_label_resource", "Ledger of each combined label (userCreator,engineType[,tenant]): max, used and locked per dimension.",
		[]string{"label", "kind", "dim"}, nil)
	descNodes   = prometheus.NewDesc("linkis_nodes", "Nodes by kind and status.", []string{"kind", "status"}, nil)
	descWaiting = prometheus.NewDesc("linkis_asks_waiting", "Asks waiting for an engine.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descECM
	ch <- descLabel
	ch <- descNodes
	ch <- descWaiting
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	var ecms []manager.ECMInfo
	var keys []manager.KeyInfo
	var stats manager.Stats
	c.rep.read(func(s *manager.State) { ecms, keys, stats = s.ECMs(), s.Keys(), s.Stats() })
	ledger := func(d *prometheus.Desc, name string, l manager.Ledger) {
		for _, k := range []struct {
			kind string
			r    linkis.Resource
		}{{"max", l.Max}, {"used", l.Used}, {"locked", l.Locked}} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(k.r.Memory), name, k.kind, "memory_bytes")
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(k.r.MilliCores)/1000, name, k.kind, "cores")
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(k.r.Instances), name, k.kind, "instances")
		}
	}
	byStatus := map[linkis.NodeStatus]int{}
	for _, m := range ecms {
		ledger(descECM, m.ID, m.Ledger)
		byStatus[m.Status]++
	}
	for _, k := range keys {
		ledger(descLabel, k.Key, k.Ledger)
	}
	for st, n := range byStatus {
		ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(n), "ecm", st.String())
	}
	for st, n := range stats.EnginesByStatus {
		ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(n), "engine", st.String())
	}
	ch <- prometheus.MustNewConstMetric(descWaiting, prometheus.GaugeValue, float64(stats.Waiting))
}
