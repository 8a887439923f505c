package admin

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"sort"
	"strings"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Resources returns a page of the ledger rows of combined labels
// (user-creator, engine type) q selects, by key. A user who is not an
// administrator sees only their own.
func (o *Operator) Resources(ctx context.Context, c Caller, q manager.KeyQuery) (Page[manager.KeyInfo], error) {
	if !c.Admin {
		if q.User != "" && q.User != c.User {
			return Page[manager.KeyInfo]{}, linkis.ValueError(linkis.ErrPermission, "username", q.User, "only an administrator may see another user's resources")
		}
		q.User = c.User
	}
	if err := checkPage(&q.Offset, &q.Limit); err != nil {
		return Page[manager.KeyInfo]{}, err
	}
	var p Page[manager.KeyInfo]
	err := o.read(ctx, func(s *manager.State) { p.Items, p.Total = s.ListKeys(q) })
	return p, err
}

// RowID is the number Linkis's console names a resource row by
// (resourceId): a hash of its combined label, stable across members and
// restarts.
func RowID(key string) int64 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int64(h.Sum32() & 0x7fffffff)
}

// RowKey returns the combined label of the row with id RowID, among the
// rows the state holds now.
func (o *Operator) RowKey(ctx context.Context, c Caller, id int64) (string, error) {
	if err := mustAdmin(c, "reset resources"); err != nil {
		return "", err
	}
	var found []string
	err := o.read(ctx, func(s *manager.State) {
		for _, k := range s.Keys() {
			if RowID(k.Key) == id {
				found = append(found, k.Key)
			}
		}
	})
	switch {
	case err != nil:
		return "", err
	case len(found) == 0:
		return "", linkis.Errorf(linkis.ErrUnknownNode, "resourceId", "no resource row %d (the rows are those rm/allUserResource lists)", id)
	case len(found) > 1:
		return "", linkis.Errorf(linkis.ErrInvalidArgument, "resourceId", "%d names the rows of %v: reset them by their label", id, found)
	}
	return found[0], nil
}

// RowReset is what a reset did to one row.
type RowReset struct {
	Key           string
	Before, After manager.Ledger
	// Ended are the engines the row held whose ECM no longer runs them:
	// they are ended (EngineEnded) and stop holding anything.
	Ended []string
	// Unverified are engines whose ECM could not be asked; they keep
	// what they hold.
	Unverified []string
}

// ResetResources recomputes ledger rows (keys; none: every row) from the
// engines that really hold them: each started engine of a row is looked
// up on its ECM, and those the ECM no longer runs are ended. Rows are
// never zeroed blindly. Administrators only.
func (o *Operator) ResetResources(ctx context.Context, c Caller, keys []string) ([]RowReset, error) {
	if err := mustAdmin(c, "reset resources"); err != nil {
		return nil, err
	}
	type target struct {
		id  manager.ECID
		key string
		ecm string
	}
	var targets []target
	rows := map[string]*RowReset{}
	var err error
	if rerr := o.read(ctx, func(s *manager.State) {
		if len(keys) == 0 {
			for _, k := range s.Keys() {
				keys = append(keys, k.Key)
			}
		}
		want := map[string]bool{}
		var users []string
		for _, k := range keys {
			ki := s.Key(k)
			if ki.Engines == 0 && ki.Waiting == 0 {
				err = linkis.ValueError(linkis.ErrUnknownNode, "key", clip(k), "no such resource row (user-creator,type-version as rm/allUserResource lists)")
				return
			}
			want[k], rows[k] = true, &RowReset{Key: k, Before: ki.Ledger}
			users = append(users, strings.SplitN(k, "-", 2)[0])
		}
		es, _ := s.ListEngines(manager.EngineQuery{Users: users, Limit: math.MaxInt32})
		for _, e := range es {
			if want[e.Key] && e.Used && !e.Killing {
				m, _ := s.ECM(e.ECM)
				targets = append(targets, target{e.ID, e.Key, m.Addr})
			}
		}
	}); rerr != nil {
		return nil, rerr
	}
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		row := rows[t.key]
		p, err := o.hosts.EngineProcess(ctx, t.ecm, t.id.String())
		var reason string
		var failed bool
		switch {
		case errors.Is(err, linkis.ErrUnknownNode):
			reason, failed = "reset: its ECM no longer has it", true
		case err != nil:
			row.Unverified = append(row.Unverified, t.id.String())
			continue
		case p.State == "Exited":
			reason, failed = "reset: its ECM says it ended: "+p.Reason, p.Failed
		default:
			continue // it runs: it holds what it holds
		}
		_, err = o.store.Apply(ctx, manager.EngineEnded{Time: o.nowNanos(), EC: t.id, Failed: failed, Reason: clipReason(reason), Retryable: true})
		switch {
		case err == nil:
			row.Ended = append(row.Ended, t.id.String())
		case errors.Is(err, linkis.ErrUnknownNode):
			// It ended meanwhile (its ECM's report got through).
		default:
			return nil, err
		}
	}
	out := make([]RowReset, 0, len(rows))
	err = o.read(ctx, func(s *manager.State) {
		for _, r := range rows {
			r.After = s.Key(r.Key).Ledger
			out = append(out, *r)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, err
}

func clipReason(s string) string {
	if len(s) > manager.MaxReasonLen {
		s = s[:manager.MaxReasonLen]
	}
	return s
}
