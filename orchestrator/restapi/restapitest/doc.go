// Package restapitest provides Jobs, an in-memory stand-in for the
// Entrance behind restapi's handler, so that the handler, its Client and
// the command line can be tested without engines. It validates a request
// the way the Entrance does in outline (labels, engine types shell, python
// and sql, ${var} references), enforces that a user sees only their own
// jobs and result files, and lets a test move jobs along by hand.
//
// It is test support: it keeps everything in memory, never runs a job and
// must never be used to serve real users.
package restapitest
