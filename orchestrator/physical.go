package orchestrator

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// Node is a node of a physical tree: a job, a stage, a strategy node
// (retry, failover, multi-active) or an exec leaf, the only node that
// talks to an engine. The optimizer builds the tree; execution runs it
// from the root, and the reheater decides after each node what happens
// next.
type Node interface {
	// Children are the node's children, in order.
	Children() []Node
	// Describe is the node in one line, e.g. "retry max=2 wait=30s".
	Describe() string
}

// JobNode is a physical tree's root: the job, whose stages run in order.
type JobNode struct {
	ExecID string
	Stages []Node
}

// StageNode is one stage of a job: its child runs the stage's code.
type StageNode struct {
	Index int
	Child Node
}

// RetryNode runs its child again after Wait when it failed retryably, up
// to Max more times.
type RetryNode struct {
	Max  int
	Wait time.Duration
	// Rerun allows another round after a failure that came once the task
	// was running (its engine died or was lost, or cancelled it): its code
	// may have run in part, and runs again whole. Only a job's own
	// jobRetryCount label allows it; otherwise such a failure ends the job.
	Rerun bool
	Child Node
}

// FailoverNode is active-backup: it runs its first child (the primary
// route) and, when that fails retryably (its route has no engine, its
// engine died), the next one, and so on.
type FailoverNode struct {
	Routes []Node
}

// MultiActiveNode is multi-active read: it runs every child at once; the
// first success wins and the others are cancelled (their tasks killed,
// their engines released). It fails only when every child failed.
type MultiActiveNode struct {
	Branches []Node
}

// ExecNode is a code unit: the leaf that asks the manager for an engine
// matching Labels, runs the unit on it and releases it.
type ExecNode struct {
	// Branch tells leaves of one strategy node apart (0 outside one); it
	// is part of the ask id, so every leaf and every retry asks anew.
	Branch int
	// Route is the route this leaf runs on ("" when the job names none).
	Route string
	// Labels are what the manager is asked with: the job's labels without
	// the orchestrator's own, plus the route's.
	Labels map[string]string
	Unit   CodeUnit
}

// CodeUnit is code to run on one engine as one task.
type CodeUnit struct {
	Code    string
	RunType string
	// Params are the task's runtime configuration.
	Params map[string]string
	// Startup is the engine's startup configuration (ask params).
	Startup map[string]string
}

// Children implements Node.
func (n *JobNode) Children() []Node { return n.Stages }

// Children implements Node.
func (n *StageNode) Children() []Node { return []Node{n.Child} }

// Children implements Node.
func (n *RetryNode) Children() []Node { return []Node{n.Child} }

// Children implements Node.
func (n *FailoverNode) Children() []Node { return n.Routes }

// Children implements Node.
func (n *MultiActiveNode) Children() []Node { return n.Branches }

// Children implements Node.
func (n *ExecNode) Children() []Node { return nil }

// Describe implements Node.
func (n *JobNode) Describe() string { return "job " + n.ExecID }

// Describe implements Node.
func (n *StageNode) Describe() string { return "stage " + strconv.Itoa(n.Index) }

// Describe implements Node.
func (n *RetryNode) Describe() string {
	return "retry max=" + strconv.Itoa(n.Max) + " wait=" + n.Wait.String()
}

// Describe implements Node.
func (n *FailoverNode) Describe() string { return "failover (active-backup)" }

// Describe implements Node.
func (n *MultiActiveNode) Describe() string { return "multi-active (first success wins)" }

// Describe implements Node: the leaf's route and engine type.
func (n *ExecNode) Describe() string {
	var b strings.Builder
	b.WriteString("exec ")
	b.WriteString(n.Labels["engineType"])
	if n.Unit.RunType != "" {
		b.WriteString(" runType=")
		b.WriteString(n.Unit.RunType)
	}
	if n.Route != "" {
		b.WriteString(" route=")
		b.WriteString(n.Route)
	}
	return b.String()
}

// Describe prints a tree, one node a line, children indented by two
// spaces.
func Describe(root Node) string {
	var b strings.Builder
	var walk func(n Node, depth int)
	walk = func(n Node, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString(n.Describe())
		b.WriteByte('\n')
		for _, c := range n.Children() {
			walk(c, depth+1)
		}
	}
	walk(root, 0)
	return b.String()
}

// routeString writes a route's labels as "k=v,k=v", sorted by key.
func routeString(r map[string]string) string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(r[k])
	}
	return b.String()
}
