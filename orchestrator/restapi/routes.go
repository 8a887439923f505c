package restapi

import (
	"net/http"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// route is one API path below Prefix. Pattern segments in braces match
// any one non-empty segment (checked as argName: printable, at most 256
// bytes) and reach the handler as call.args, in order. A public route is
// served without authentication (login, logout, publicKey); every other
// one authenticates first, then checks the method.
//
// Each resource file keeps its routes in a table (userRoutes in user.go,
// entranceRoutes, historyRoutes, filesystemRoutes); NewHandler serves
// their concatenation. A new resource adds a table and names it there.
type route struct {
	methods []string
	pattern string
	argName string
	public  bool
	// changes marks a GET that changes something (Linkis's kill is a
	// GET): a browser's cross-site request may not make it (crossSite).
	changes bool
	handle  func(h *handler, c *apiCall) *reply
}

// get and post are the usual method lists.
var (
	get     = []string{http.MethodGet}
	post    = []string{http.MethodPost}
	getPost = []string{http.MethodGet, http.MethodPost}
)

// match finds the route of a path below Prefix, and its arguments.
func (h *handler) match(path string) (*route, []string) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := range h.routes {
		rt := &h.routes[i]
		pat := strings.Split(strings.TrimPrefix(rt.pattern, "/"), "/")
		if len(pat) != len(segs) {
			continue
		}
		var args []string
		ok := true
		for j, p := range pat {
			if strings.HasPrefix(p, "{") {
				args = append(args, segs[j])
				continue
			}
			if p != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return rt, args
		}
	}
	return nil, nil
}

// allow refuses a request whose method is not one of methods.
func allow(r *http.Request, methods ...string) *reply {
	for _, m := range methods {
		if r.Method == m {
			return nil
		}
	}
	return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "method", clip(r.Method), "use "+strings.Join(methods, " or ")),
		status: StatusValidation, code: http.StatusMethodNotAllowed, allow: strings.Join(methods, ", ")}
}
