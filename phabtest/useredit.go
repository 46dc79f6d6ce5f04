package phabtest

import "fmt"

// userEditTypes are the transaction types user.edit knows (its edit
// engine's two custom fields).
var userEditTypes = []string{"disabled", "approved"}

// errDisableUsers is Phorge's refusal of a "disabled" transaction by a
// caller without the "Can Disable Users" capability (administrators by
// default), as recorded in error.user.edit.disable-as-non-admin.json
// (NOTES fact 60).
func errDisableUsers() *apiError {
	return coreError("[You Shall Not Pass: People] (Can Disable Users) You do not have permission to disable or enable users. // Administrators can take this action.")
}

// userEdit is user.edit: it disables or enables an account ("disabled",
// true or false), as Phorge does (NOTES fact 60). Only a change needs the
// capability: a transaction that sets what already is passes for anyone
// and applies nothing. Nobody may disable or enable their own account.
// Like the real one it makes no feed story (fact 35).
func (s *Server) userEdit(c *call) (any, *apiError) {
	txs, aerr := c.editTransactions(userEditTypes)
	if aerr != nil {
		return nil, aerr
	}
	ident, ok := c.value("objectIdentifier")
	if !ok {
		return nil, coreError("phabtest: user.edit without objectIdentifier (creating users) is not implemented")
	}
	u, aerr := s.resolveUser(ident)
	if aerr != nil {
		return nil, aerr
	}
	want := u.disabled
	for i, tx := range txs {
		if tx.typ != "disabled" {
			return nil, coreError("phabtest: user.edit transaction type %q is not implemented", tx.typ)
		}
		v, ok := tx.value.(bool)
		if !ok {
			return nil, coreError("Exception when processing transaction of type \"disabled\" (at index %d): value must be a boolean.", i)
		}
		if v == u.disabled {
			continue
		}
		if !c.viewer.admin {
			return nil, errDisableUsers()
		}
		if c.viewer == u {
			return nil, errValidation("You can not enable or disable your own account.")
		}
		want = v
	}
	var xs []*xact
	if want != u.disabled {
		xs = s.addXacts(u.phid, "USER", c.viewer.phid, []xactEntry{{typ: "user.disable", fields: oldNew(u.disabled, want)}})
		u.disabled = want
		u.modified = s.now()
	}
	return s.finishEdit(c, u.id, u.phid, false, txs, xs), nil
}

// resolveUser loads the account an edit names, by ID or PHID (every
// account is visible to everyone).
func (s *Server) resolveUser(ident any) (*user, *apiError) {
	text, kind, ok := classifyIdent(ident)
	if !ok {
		return nil, coreError("Parameter \"objectIdentifier\" must be a string or an integer.")
	}
	for _, u := range s.users {
		if (kind == identID && fmt.Sprint(u.id) == text) || (kind == identPHID && u.phid == text) {
			return u, nil
		}
	}
	return nil, errObjectIdentifier(kind, text)
}
