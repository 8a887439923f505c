// Package console is the web console: jobs, engines, hosts, resources,
// settings and the cluster in a browser, served by every `linkis server`
// and cluster member at "/" from files embedded in the binary. Pages are
// html/template documents, styled by one CSS file and made live by one
// small hand-written script; nothing is fetched from elsewhere and no
// front-end build exists (go build is the whole build).
//
// # Why here
//
// It lives in orchestrator/, beside restapi, because it is a second edge
// over the same three backends: the entrance (restapi.Jobs: jobs, logs,
// results), the identity service (restapi.Authenticator: logins and the
// sessions in the replicated state) and the operator's calls
// (restapi.Operations, orchestrator/admin: ECMs, engines, resources,
// configuration, variables). It declares nothing of its own about who may
// do what: every page and form calls those with the logged-in user, as
// the REST API does, and shows their refusal. An administrator-only page
// is refused by the operator on the server, not hidden by the console.
// Which calls an administrator's requests take (the entrance's *Any and
// KillBy) follows restapi's choices, with Config.IsAdmin the same list.
//
// # Shape (Miniflux's)
//
// Every page is a form or a link that works without scripts. console.js
// only adds live updates to a running job's page (status, progress and
// new log lines, polled from /jobs/{id}/follow, a JSON view of the same
// reads the page makes, inserted as text) and a confirmation before a
// kill; without it the page refreshes itself while the job runs
// (<noscript> meta refresh). Downloads of result sets are links to the
// REST API's resultsetToExcel (CSV or XLSX, streamed from the ECM that
// keeps the rows): the console logs in with the same session cookie, so
// the REST API knows the caller and decides, as for any client.
//
// # Reads
//
// List pages (the history, engines, ECMs, resources) read the answering
// member's own state, as the REST API's stale=true does: a page of 50 out
// of 10,000 jobs costs about a millisecond and no round trip to the
// leader. A job's own page, and everything a form changes, is read and
// written through the leader (linearizably), so the page a form leads to
// shows what it did. The cluster page is the member's own view, shown to
// every logged-in user (it names members, not secrets); the per-ECM bars
// and the cluster's chart are shown to those the operator shows the ECMs
// (administrators).
//
// # Safe by construction
//
//   - The session cookie is the REST API's (linkis_user_session_ticket_id_v1,
//     set by restapi.NewSessionCookie): HttpOnly, SameSite=Strict, Secure
//     when the client's connection is TLS. Its value lives only in the
//     browser; the replicated state keeps its hash. Behind a reverse proxy
//     named in Config.TrustedProxies (the REST API's), X-Forwarded-For
//     names the client - whose failed logins are counted - and
//     X-Forwarded-Proto its TLS, as in the REST API (restapi.Proxies).
//   - After a login the browser goes to "next" only when it is a console
//     page: never another host, and never the REST API's paths (its GET
//     entrance/{execID}/kill would be done by logging in).
//   - Every state-changing request (a POST: login, logout, run, kill,
//     re-run, drain, kill engine, settings) carries a CSRF token, checked
//     before anything else is done: after login, an HMAC of the session id
//     (so every member computes the same token and nothing more is kept);
//     before login, a double-submit cookie. Cross-origin POSTs are refused
//     first by net/http's CrossOriginProtection (Sec-Fetch-Site, Origin).
//     A request refused for its token, its size or an expired session
//     changes nothing and says so on the page.
//   - Output is escaped by html/template; the script inserts log lines with
//     textContent. The Content-Security-Policy allows scripts, styles,
//     images and connections from the console's own origin only - no inline
//     script or style - and forbids framing.
//   - Form bodies are bounded (Config.MaxFormBytes) and so are fields.
//
// # The resources chart
//
// The cluster's totals over the last hour (max, used, locked memory,
// cores and engines, summed over the ECMs) come from a bounded in-memory
// series each member keeps itself: a sampler reads its own state every
// Config.SampleEvery (a local read, no Raft traffic) into a ring of
// History/SampleEvery points, drawn as SVG on the server. /metrics holds
// only the present values, and keeping the series in the replicated state
// would put a command in the log every few seconds for a picture; the
// price is that a member that just started shows a shorter hour.
//
// # What it must never do
//
// It never decides a permission the entrance or the operator decides,
// never changes anything on a GET, never shows a session id or a CSRF
// token of another session, never writes an unescaped value into a page,
// and never loads anything from another origin.
package console
