package campaigns

import (
	"fmt"
	"strings"
)

// Action is what a campaign does to a user found non-compliant once their
// removal is approved: remove their memberships of the audited groups (the
// default) or disable their account.
type Action string

// Actions, as written in a campaign file's action key and stored with
// every removal batch (state.Removal.Action, where remove is "").
const (
	// ActionRemove removes the user from the audited groups they are in.
	ActionRemove Action = "remove"
	// ActionDisable disables the user's account (Conduit user.edit, admin
	// only): every session and API token of theirs stops working, in every
	// group, until an approver restores it. Bots, administrators and the
	// campaign's approvers are never disabled.
	ActionDisable Action = "disable"
)

// Actions lists the actions a campaign file may name.
var Actions = []Action{ActionRemove, ActionDisable}

// ParseAction reads an action key's value; "" is the default, remove.
func ParseAction(s string) (Action, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return ActionRemove, nil
	}
	for _, a := range Actions {
		if s == string(a) {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown action %q%s; want remove (the default: remove the user from the audited groups) or disable (disable the account)",
		s, suggest(s, []string{string(ActionRemove), string(ActionDisable)}))
}

// Disables reports whether the campaign disables accounts rather than
// removing memberships.
func (c *Campaign) Disables() bool { return c.Action == ActionDisable }
