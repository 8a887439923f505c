// Package api is the HTTP/JSON wire between the manager cluster, the ECMs,
// the EngineConns and clients: the paths, the request and response bodies,
// the error envelope, the cluster-token check, and clients (Client talks
// to any manager member; ECMClient to an ECM, including the host data it
// serves - task logs and result files, hostdata.go; EngineClient to an
// engine's task API, whose bodies and result-set files are in engine.go).
//
// Bodies convert to and from the manager's commands here, in one place, so
// that the server, the agents and the clients agree on every field. Every
// conversion validates: a body that decodes but names a bad label, a
// negative resource or an unknown status is refused with a *linkis.Error
// naming the field, before anything is proposed.
//
// The package holds no state and takes no decision. It may do network I/O
// only inside the clients.
package api
