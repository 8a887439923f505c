// Package embedded starts the whole system in one process with one call:
// the manager (in memory, or a single-node Raft log in the data directory),
// one ECM that launches real EngineConn processes on this host, and the
// entrance with its orchestrator. It is what `linkis run` and `linkis
// server` run, and what a Go program embeds:
//
//	func main() {
//		embedded.ServeEngine() // this program is also its own engine binary
//		sys, err := embedded.Start(embedded.Config{})
//		...
//	}
//
// The parts talk to each other as they do across hosts - the ECM and the
// engines reach the manager over loopback HTTP with a cluster token made
// for the system - so what runs embedded is what runs distributed. The one
// shortcut: the orchestrator applies its asks to the manager's store
// directly, without HTTP.
//
// It is wiring only: it must never hold scheduling, ledger or job logic of
// its own.
package embedded
