// Package linkis is the shared vocabulary of the module: labels and their
// features, engine requests, combined ledger keys, multi-dimensional
// resources with checked arithmetic, node statuses with their legal
// transitions, node health and load, service instances, and the typed errors
// every other package returns.
//
// It imports only the standard library and nothing of ours, holds no state
// and does no I/O: it must never grow behaviour that belongs to a component.
// Names follow Apache Linkis (userCreator, engineType, Unlock, ...) so that
// people who know Linkis recognise them.
package linkis
