package admin

import (
	"context"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// mayEdit refuses a level of another user's (or of every user) to a
// caller who is not an administrator.
func mayEdit(c Caller, user, what string) error {
	if c.Admin || user == c.User {
		return nil
	}
	if user == "*" {
		return linkis.ValueError(linkis.ErrPermission, "user", user, "only an administrator may "+what+" for every user")
	}
	return linkis.ValueError(linkis.ErrPermission, "user", user, "only an administrator may "+what+" of another user")
}

// ConfigTree returns the keys of a level with their values: the level's
// own, the one in force there and where it comes from.
func (o *Operator) ConfigTree(ctx context.Context, c Caller, l manager.ConfLevel) ([]manager.ConfSetting, error) {
	if err := mayEdit(c, l.User, "see the configuration"); err != nil {
		return nil, err
	}
	var out []manager.ConfSetting
	err := o.read(ctx, func(s *manager.State) { out = s.ConfigTree(l) })
	return out, err
}

// SetConfig sets and removes values of a level. A user who is not an
// administrator edits only their own levels, and may not raise a limit
// above what the administrators allow.
func (o *Operator) SetConfig(ctx context.Context, c Caller, l manager.ConfLevel, set map[string]string, remove []string) error {
	if err := mayEdit(c, l.User, "change the configuration"); err != nil {
		return err
	}
	_, err := o.propose(ctx, manager.SetConfig{Time: o.nowNanos(), User: l.User, Creator: l.Creator, EngineType: l.EngineType,
		Set: set, Remove: remove, Admin: c.Admin})
	return err
}

// ConfigLevels returns the levels that hold values: the caller's own, or
// every one for an administrator.
func (o *Operator) ConfigLevels(ctx context.Context, c Caller) ([]manager.ConfLevel, error) {
	var out []manager.ConfLevel
	err := o.read(ctx, func(s *manager.State) {
		for _, l := range s.ConfigLevels() {
			if c.Admin || l.User == c.User {
				out = append(out, l)
			}
		}
	})
	return out, err
}

// EngineTypes lists the engine types the manager serves.
func (o *Operator) EngineTypes(ctx context.Context) ([]string, error) {
	var out []string
	err := o.read(ctx, func(s *manager.State) { out = s.EngineTypes() })
	return out, err
}

// Variables returns a user's global variables: the caller's own, or
// anyone's for an administrator.
func (o *Operator) Variables(ctx context.Context, c Caller, user string) (map[string]string, error) {
	if err := mayEdit(c, user, "see the variables"); err != nil {
		return nil, err
	}
	var out map[string]string
	err := o.read(ctx, func(s *manager.State) { out = s.Variables(user) })
	return out, err
}

// SetVariables replaces a user's global variables.
func (o *Operator) SetVariables(ctx context.Context, c Caller, user string, vars map[string]string) error {
	if err := mayEdit(c, user, "change the variables"); err != nil {
		return err
	}
	_, err := o.propose(ctx, manager.SetVariables{Time: o.nowNanos(), User: user, Vars: vars})
	return err
}
