package phabtest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// xact is one stored transaction of a task or project.
type xact struct {
	id         int
	phid       string
	objectPHID string
	authorPHID string
	// typ is nil for transactions transaction.search cannot name: project
	// name, join policy and membership changes (fact 33).
	typ     *string
	fields  any // nil encodes as {}
	comment *comment
	date    int64
	// modified is dateModified: it moves when the comment is edited
	// (fact 45); 0 means date.
	modified int64
	groupID  string
}

// comment is the text of a comment transaction: its first version and
// the edits that followed, oldest first.
type comment struct {
	id    int
	phid  string
	text  string
	edits []commentEdit
}

// commentEdit is a later version of a comment: Phorge stores a new comment
// row (own id and PHID) under the same transaction (fact 45).
type commentEdit struct {
	id      int
	phid    string
	text    string
	date    int64
	removed bool
}

// current returns the comment's current text ("" once deleted).
func (c *comment) current() string {
	if n := len(c.edits); n > 0 {
		return c.edits[n-1].text
	}
	return c.text
}

// xactEntry is a transaction about to be stored.
type xactEntry struct {
	typ      string
	nullType bool
	fields   any
	comment  *string
}

func oldNew(old, new any) map[string]any { return map[string]any{"old": old, "new": new} }

type operation struct {
	Operation string `json:"operation"`
	PHID      string `json:"phid"`
}

func operationsField(ops []operation) map[string]any { return map[string]any{"operations": ops} }

// addXacts stores entries as one transaction group on object and returns
// them. kind is the object's PHID type (TASK, PROJ) for PHID-XACT-<kind>-.
func (s *Server) addXacts(objectPHID, kind, author string, entries []xactEntry) []*xact {
	group := s.randomString(32)
	now := s.now()
	var out []*xact
	for _, e := range entries {
		s.lastXact++
		x := &xact{
			id: s.lastXact, phid: s.newPHID("XACT-" + kind),
			objectPHID: objectPHID, authorPHID: author,
			fields: e.fields, date: now, groupID: group,
		}
		if !e.nullType {
			x.typ = ptr(e.typ)
		}
		if e.comment != nil {
			s.lastCmt++
			x.comment = &comment{id: s.lastCmt, phid: s.newPHID("XCMT"), text: *e.comment}
		}
		s.xacts = append(s.xacts, x)
		out = append(out, x)
	}
	return out
}

// txSpec is one requested edit transaction.
type txSpec struct {
	typ   string
	value any
}

// editTransactions reads the transactions parameter of an *.edit call. An
// unknown type lists the valid ones, as the real error does (fact 29).
func (c *call) editTransactions(valid []string) ([]txSpec, *apiError) {
	raw, ok := c.value("transactions")
	if !ok {
		return nil, coreError(`Parameter "transactions" is not a list of transactions.`)
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, coreError(`Parameter "transactions" is not a list of transactions.`)
	}
	var out []txSpec
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, coreError("Parameter \"transactions\" must contain a list of transaction descriptions, but item with key \"%d\" is not a dictionary.", i)
		}
		typ, ok := m["type"].(string)
		if !ok {
			return nil, coreError("Parameter \"transactions\" must contain a list of transaction descriptions, but item with key \"%d\" is missing a \"type\" field. Each transaction must have a type field.", i)
		}
		if !slices.Contains(valid, typ) {
			return nil, coreError("Transaction with key \"%d\" has invalid type %q. This type is not recognized. Valid types are: %s.", i, typ, strings.Join(valid, ", "))
		}
		out = append(out, txSpec{typ: typ, value: m["value"]})
	}
	return out, nil
}

// finishEdit records a successful edit call and builds its answer:
// {"object":{"id","phid"},"transactions":[{"phid"}...]}, with [] for a
// no-op edit (fact 28).
func (s *Server) finishEdit(c *call, id int, phid string, created bool, txs []txSpec, xs []*xact) any {
	w := Write{
		Method: c.method, ActorPHID: c.viewer.phid, ObjectID: id, ObjectPHID: phid, Created: created,
		At: time.Unix(s.now(), 0),
	}
	applied := []map[string]string{}
	for _, x := range xs {
		applied = append(applied, map[string]string{"phid": x.phid})
		w.TransactionPHIDs = append(w.TransactionPHIDs, x.phid)
	}
	for _, tx := range txs {
		w.Transactions = append(w.Transactions, Transaction{Type: tx.typ, Value: normalizeValue(tx.value)})
	}
	s.writes = append(s.writes, w)
	return map[string]any{
		"object":       map[string]any{"id": id, "phid": phid},
		"transactions": applied,
	}
}

// identKind is how an objectIdentifier names an object.
type identKind int

const (
	identID   identKind = iota // 10 or "10"
	identPHID                  // PHID-TASK-...
	identName                  // T10, #slug
)

func classifyIdent(v any) (string, identKind, bool) {
	text, ok := stringOrInt(v)
	if !ok || text == "" {
		return "", 0, false
	}
	if _, err := strconv.Atoi(text); err == nil {
		return text, identID, true
	}
	if strings.HasPrefix(text, "PHID-") {
		return text, identPHID, true
	}
	return text, identName, true
}

// handleName is how feed text names an object.
func (s *Server) handleName(phid string) string {
	if u := s.userByID[phid]; u != nil {
		return u.username
	}
	if p := s.projByID[phid]; p != nil {
		return p.name
	}
	if t := s.taskByID[phid]; t != nil {
		return t.monogram() + ": " + t.title
	}
	return phid
}

func (s *Server) handleNames(phids []string) string {
	names := make([]string, len(phids))
	for i, p := range phids {
		names[i] = s.handleName(p)
	}
	return strings.Join(names, ", ")
}

type xactRow struct {
	ID           int          `json:"id"`
	PHID         string       `json:"phid"`
	Type         *string      `json:"type"`
	AuthorPHID   string       `json:"authorPHID"`
	ObjectPHID   string       `json:"objectPHID"`
	DateCreated  int64        `json:"dateCreated"`
	DateModified int64        `json:"dateModified"`
	GroupID      string       `json:"groupID"`
	Comments     []commentRow `json:"comments"`
	Fields       any          `json:"fields"`
}

type commentRow struct {
	ID           int               `json:"id"`
	PHID         string            `json:"phid"`
	Version      int               `json:"version"`
	AuthorPHID   string            `json:"authorPHID"`
	DateCreated  int64             `json:"dateCreated"`
	DateModified int64             `json:"dateModified"`
	Removed      bool              `json:"removed"`
	Content      map[string]string `json:"content"`
}

// resolveObject finds a visible task or project for transaction.search.
func (s *Server) resolveObject(viewer *user, ident any) (string, bool) {
	text, kind, ok := classifyIdent(ident)
	if !ok {
		return "", false
	}
	if kind == identPHID {
		if t := s.taskByID[text]; t != nil {
			return t.phid, s.canTask(viewer, t, canView)
		}
		if p := s.projByID[text]; p != nil {
			return p.phid, s.canProject(viewer, p, canView)
		}
		return "", false
	}
	if kind == identName && strings.HasPrefix(text, "#") {
		p := s.projectBySlug(text[1:])
		return phidOf(p), p != nil && s.canProject(viewer, p, canView)
	}
	if kind == identName {
		t := s.taskByMonogram(text)
		return phidOfTask(t), t != nil && s.canTask(viewer, t, canView)
	}
	return "", false
}

func phidOf(p *project) string {
	if p == nil {
		return ""
	}
	return p.phid
}

func phidOfTask(t *task) string {
	if t == nil {
		return ""
	}
	return t.phid
}

func (s *Server) transactionSearch(c *call) (any, *apiError) {
	ident, ok := c.value("objectIdentifier")
	if !ok {
		return nil, coreError(`When calling "transaction.search", you must provide an object to retrieve transactions for.`)
	}
	cons, aerr := readTransactionConstraints(c)
	if aerr != nil {
		return nil, aerr
	}
	p, aerr := c.pageParams("x.id")
	if aerr != nil {
		return nil, aerr
	}
	objectPHID, ok := s.resolveObject(c.viewer, ident)
	if !ok {
		return nil, &apiError{code: codeInvalidObject, info: `Specified "objectIdentifier" does not exist.`}
	}
	var rows []*xact
	for _, x := range s.xacts {
		if x.objectPHID != objectPHID {
			continue
		}
		if l, ok := cons["phids"]; ok && !slices.Contains(l, x.phid) {
			continue
		}
		if l, ok := cons["authorPHIDs"]; ok && !slices.Contains(l, x.authorPHID) {
			continue
		}
		rows = append(rows, x)
	}
	order := rowOrder{} // newest first (fact 13)
	keys := sortRows(rows, order, func(x *xact) sortKey { return sortKey{id: x.id} })
	idx, cur, aerr := paginate(keys, order, p, nil, "PhabricatorApplicationTransactionQuery")
	if aerr != nil {
		return nil, aerr
	}
	data := []xactRow{}
	for _, i := range idx {
		data = append(data, xactRowOf(rows[i]))
	}
	// Only data and a cursor without order (fact 11).
	return map[string]any{"data": data, "cursor": cur}, nil
}

// readTransactionConstraints reads transaction.search's constraints,
// which reports unknown ones its own way (fact 4).
func readTransactionConstraints(c *call) (map[string][]string, *apiError) {
	cons := map[string][]string{}
	raw, ok := c.value("constraints")
	if !ok {
		return cons, nil
	}
	m, isMap := raw.(map[string]any)
	if !isMap {
		if l, isList := raw.([]any); !isList || len(l) > 0 {
			return nil, errReading("constraints", "Expected a map, got something else.")
		}
	}
	var unknown []string
	for _, k := range sortedKeys(m) {
		if k != "phids" && k != "authorPHIDs" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		return nil, &apiError{code: codeCall, info: "Got unexpected parameters: " + strings.Join(unknown, ", ")}
	}
	for _, k := range sortedKeys(m) {
		if m[k] == nil {
			continue
		}
		l, aerr := readStringList(k, m[k], true)
		if aerr != nil {
			return nil, aerr
		}
		cons[k] = l
	}
	return cons, nil
}

func xactRowOf(x *xact) xactRow {
	modified := x.date
	if x.modified != 0 {
		modified = x.modified
	}
	row := xactRow{
		ID: x.id, PHID: x.phid, Type: x.typ, AuthorPHID: x.authorPHID, ObjectPHID: x.objectPHID,
		DateCreated: x.date, DateModified: modified, GroupID: x.groupID,
		Comments: []commentRow{}, Fields: x.fields,
	}
	if row.Fields == nil {
		row.Fields = map[string]any{}
	}
	if c := x.comment; c != nil {
		// Every version, newest first (fact 45).
		for i := len(c.edits) - 1; i >= 0; i-- {
			e := c.edits[i]
			row.Comments = append(row.Comments, commentRow{
				ID: e.id, PHID: e.phid, Version: i + 2, AuthorPHID: x.authorPHID,
				DateCreated: e.date, DateModified: e.date, Removed: e.removed,
				Content: map[string]string{"raw": e.text},
			})
		}
		row.Comments = append(row.Comments, commentRow{
			ID: c.id, PHID: c.phid, Version: 1, AuthorPHID: x.authorPHID,
			DateCreated: x.date, DateModified: x.date,
			Content: map[string]string{"raw": c.text},
		})
	}
	return row
}

// EditComment edits the comment of transaction txPHID as its author would
// in the web UI: the transaction keeps its id and PHID, a new version
// lists first, and dateModified moves to now while dateCreated stays
// (fact 45). An edit does not bring the transaction back past a reader's
// id cursor.
func (s *Server) EditComment(txPHID, text string) {
	s.reviseComment("EditComment", txPHID, text, false)
}

// DeleteComment removes the comment of transaction txPHID: Phorge adds a
// version marked removed, with no text.
func (s *Server) DeleteComment(txPHID string) {
	s.reviseComment("DeleteComment", txPHID, "", true)
}

func (s *Server) reviseComment(fn, txPHID, text string, removed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.xacts {
		if x.phid != txPHID {
			continue
		}
		if x.comment == nil {
			panic(fmt.Sprintf("phabtest: %s: transaction %s has no comment", fn, txPHID))
		}
		now := s.now()
		s.lastCmt++
		x.comment.edits = append(x.comment.edits, commentEdit{id: s.lastCmt, phid: s.newPHID("XCMT"), text: text, date: now, removed: removed})
		x.modified = now
		// The edit itself leaves the task as it is (its dateModified
		// too, fact 48); only a user it newly @mentions is subscribed,
		// by a transaction of the editor's, which moves it (fact 47).
		if t := s.taskByID[x.objectPHID]; t != nil && !removed {
			if ops := s.mentionSubscriptions(t, []string{text}); len(ops) > 0 {
				s.addXacts(t.phid, "TASK", x.authorPHID, []xactEntry{{typ: "subscribers", fields: operationsField(ops)}})
				t.modified = now
			}
		}
		return
	}
	panic(fmt.Sprintf("phabtest: %s: no transaction %s", fn, txPHID))
}
