package phabtest

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TaskSpec describes a task to seed. Seeding bypasses policy checks but
// records the same transactions and feed stories as maniphest.edit.
type TaskSpec struct {
	Title       string
	Description string
	AuthorPHID  string // required; auto-subscribed like a real author
	OwnerPHID   string
	Status      string // default "open"
	ViewPolicy  string // default "users"
	EditPolicy  string // default "users"
	Subscribers []string
	Projects    []string
	// Space is the task's Space PHID (PHID-SPCE-…); "" for none.
	Space string
	// At backdates the creation; zero means Options.Now.
	At time.Time
}

// CommentSpec describes a comment to seed.
type CommentSpec struct {
	TaskID     int
	AuthorPHID string
	Text       string
	// At backdates the comment; zero means Options.Now.
	At time.Time
}

// TaskSnapshot is a task's stored state.
type TaskSnapshot struct {
	ID          int
	PHID        string
	Title       string
	Description string
	AuthorPHID  string
	OwnerPHID   string
	Status      string
	Priority    int
	ViewPolicy  string
	EditPolicy  string
	// SubscriberPHIDs is the complete list, in the order they subscribed.
	SubscriberPHIDs []string
	ProjectPHIDs    []string
	ParentPHIDs     []string
	CloserPHID      string
	DateCreated     time.Time
	DateModified    time.Time
	DateClosed      time.Time // zero while open
}

// CommentSnapshot is one comment on a task.
type CommentSnapshot struct {
	ID              int
	PHID            string
	TransactionPHID string
	AuthorPHID      string
	Text            string
	Date            time.Time
}

type task struct {
	id                     int
	phid                   string
	title, description     string
	authorPHID, ownerPHID  string
	status                 string
	priority               int
	viewPolicy, editPolicy string
	subscribers            []string // in the order they subscribed
	// unsubscribed are users who removed themselves: Phabricator records
	// that, and commenting no longer re-subscribes them.
	unsubscribed      []string
	projects          []string
	parents           []string
	closerPHID        string
	space             string
	created, modified int64
	closed            int64
}

func (t *task) monogram() string { return "T" + strconv.Itoa(t.id) }

func (t *task) clone() task {
	c := *t
	c.subscribers = slices.Clone(t.subscribers)
	c.unsubscribed = slices.Clone(t.unsubscribed)
	c.projects = slices.Clone(t.projects)
	c.parents = slices.Clone(t.parents)
	return c
}

func (t *task) snapshot() TaskSnapshot {
	ts := TaskSnapshot{
		ID: t.id, PHID: t.phid, Title: t.title, Description: t.description,
		AuthorPHID: t.authorPHID, OwnerPHID: t.ownerPHID, Status: t.status, Priority: t.priority,
		ViewPolicy: t.viewPolicy, EditPolicy: t.editPolicy,
		SubscriberPHIDs: slices.Clone(t.subscribers), ProjectPHIDs: slices.Clone(t.projects),
		ParentPHIDs: slices.Clone(t.parents), CloserPHID: t.closerPHID,
		DateCreated: time.Unix(t.created, 0), DateModified: time.Unix(t.modified, 0),
	}
	if t.closed != 0 {
		ts.DateClosed = time.Unix(t.closed, 0)
	}
	return ts
}

// statusNames are the default statuses (maniphest.status.search.json).
var statusNames = map[string]string{
	"open": "Open", "resolved": "Resolved", "wontfix": "Wontfix",
	"invalid": "Invalid", "duplicate": "Duplicate", "spite": "Spite",
}

func isClosedStatus(s string) bool { return s != "open" && statusNames[s] != "" }

func statusName(s string) string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "Unknown Status" // unknown values are stored as is (fact 26)
}

type priorityInfo struct {
	name, color, keyword string
}

var priorities = map[int]priorityInfo{
	100: {"Unbreak Now!", "pink", "unbreak"},
	90:  {"Needs Triage", "violet", "triage"},
	80:  {"High", "red", "high"},
	50:  {"Normal", "orange", "normal"},
	25:  {"Low", "yellow", "low"},
	0:   {"Wishlist", "sky", "wish"},
}

func priorityName(p int) (string, string) {
	if i, ok := priorities[p]; ok {
		return i.name, i.color
	}
	return "Unknown Priority (" + strconv.Itoa(p) + ")", "black"
}

// AddTask files a task without policy checks, as its author.
func (s *Server) AddTask(spec TaskSpec) TaskSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	author := s.mustUser("AddTask", spec.AuthorPHID)
	txs := []txSpec{{"title", spec.Title}}
	add := func(typ string, v any, ok bool) {
		if ok {
			txs = append(txs, txSpec{typ, v})
		}
	}
	add("description", spec.Description, spec.Description != "")
	add("owner", spec.OwnerPHID, spec.OwnerPHID != "")
	add("status", spec.Status, spec.Status != "")
	add("subscribers.add", anyList(spec.Subscribers), len(spec.Subscribers) > 0)
	add("projects.add", anyList(spec.Projects), len(spec.Projects) > 0)
	add("view", spec.ViewPolicy, spec.ViewPolicy != "")
	add("edit", spec.EditPolicy, spec.EditPolicy != "")
	restore := s.backdate(spec.At)
	defer restore()
	t, _, aerr := s.editTask(author, nil, txs, false)
	if aerr != nil {
		panic("phabtest: AddTask: " + aerr.Error())
	}
	t.space = spec.Space
	return t.snapshot()
}

// AddComment posts a comment without policy checks; the author is
// auto-subscribed as with maniphest.edit (fact 27).
func (s *Server) AddComment(spec CommentSpec) CommentSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	author := s.mustUser("AddComment", spec.AuthorPHID)
	t := s.taskByNumber(spec.TaskID)
	if t == nil {
		panic(fmt.Sprintf("phabtest: AddComment: no task T%d", spec.TaskID))
	}
	restore := s.backdate(spec.At)
	defer restore()
	_, xs, aerr := s.editTask(author, t, []txSpec{{"comment", spec.Text}}, false)
	if aerr != nil {
		panic("phabtest: AddComment: " + aerr.Error())
	}
	return commentSnapshot(xs[len(xs)-1])
}

// backdate makes s.now return at until the returned func is called.
func (s *Server) backdate(at time.Time) func() {
	if at.IsZero() {
		return func() {}
	}
	saved := s.clock
	s.clock = at.Unix()
	return func() { s.clock = saved }
}

func anyList(l []string) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = v
	}
	return out
}

// Task returns task T<id>.
func (s *Server) Task(id int) (TaskSnapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.taskByNumber(id)
	if t == nil {
		return TaskSnapshot{}, false
	}
	return t.snapshot(), true
}

// Tasks returns every task, by id.
func (s *Server) Tasks() []TaskSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TaskSnapshot, len(s.tasks))
	for i, t := range s.tasks {
		out[i] = t.snapshot()
	}
	return out
}

// Comments returns the comments on task T<id>, oldest first.
func (s *Server) Comments(taskID int) []CommentSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.taskByNumber(taskID)
	if t == nil {
		return nil
	}
	var out []CommentSnapshot
	for _, x := range s.xacts {
		if x.objectPHID == t.phid && x.comment != nil {
			out = append(out, commentSnapshot(x))
		}
	}
	return out
}

func commentSnapshot(x *xact) CommentSnapshot {
	return CommentSnapshot{
		ID: x.comment.id, PHID: x.comment.phid, TransactionPHID: x.phid,
		AuthorPHID: x.authorPHID, Text: x.comment.current(), Date: time.Unix(x.date, 0),
	}
}

func (s *Server) taskByNumber(id int) *task {
	if id < 1 || id > len(s.tasks) {
		return nil
	}
	return s.tasks[id-1]
}

func (s *Server) taskByMonogram(name string) *task {
	n, ok := strings.CutPrefix(name, "T")
	if !ok {
		return nil
	}
	id, err := strconv.Atoi(n)
	if err != nil || strconv.Itoa(id) != n {
		return nil
	}
	return s.taskByNumber(id)
}

// maniphestEditTypes are the valid maniphest.edit types (fact 29).
var maniphestEditTypes = []string{
	"parent", "column", "space", "title", "owner", "status", "priority", "description",
	"parents.add", "parents.remove", "parents.set", "subtasks.add", "subtasks.remove", "subtasks.set",
	"commits.add", "commits.remove", "commits.set", "view", "edit",
	"projects.add", "projects.remove", "projects.set",
	"subscribers.add", "subscribers.remove", "subscribers.set", "subtype", "comment", "mfa",
}

// subscribersNeedEdit reports whether a subscribers.* transaction needs
// the edit policy, as Phorge's PhabricatorApplicationTransactionEditor::
// getLegacyRequiredCapabilities decides: removing anyone but yourself
// needs CAN_EDIT; adding others needs only CAN_INTERACT ("This allows
// @mentioning users to work"), which for a task is its view policy
// (ManiphestTask::getPolicy), already met since the task loaded;
// subscribing or unsubscribing yourself needs nothing more. So anyone who
// can see a task can let anyone else (or a whole project) see it when
// its view policy is "subscribers". A malformed value needs edit, and
// the value check reports it.
func (s *Server) subscribersNeedEdit(tx txSpec, actor *user, t *task) bool {
	vals, aerr := readStringList("", tx.value, false)
	if aerr != nil {
		return true
	}
	list := slices.Clone(t.subscribers)
	_, verb, _ := strings.Cut(tx.typ, ".")
	for _, op := range applyListEdit(&list, verb, s.resolveUsernames(vals)) {
		if op.Operation == "remove" && op.PHID != actor.phid {
			return true
		}
	}
	return false
}

// resolveTask loads the task an edit names. A monogram of an invisible
// task "does not identify a valid object" (fact 23); an ID or PHID raises
// the (Can View) policy error, as maniphest.info does.
func (s *Server) resolveTask(viewer *user, ident any) (*task, *apiError) {
	text, kind, ok := classifyIdent(ident)
	if !ok {
		return nil, coreError(`Parameter "objectIdentifier" must be a string or an integer.`)
	}
	var t *task
	switch kind {
	case identID:
		id, _ := strconv.Atoi(text)
		t = s.taskByNumber(id)
	case identPHID:
		t = s.taskByID[text]
	default:
		t = s.taskByMonogram(text)
		if t != nil && !s.canTask(viewer, t, canView) {
			t = nil
		}
	}
	if t == nil {
		return nil, errObjectIdentifier(kind, text)
	}
	if !s.canTask(viewer, t, canView) {
		return nil, s.taskDenied(viewer, t, canView)
	}
	return t, nil
}

func (s *Server) maniphestEdit(c *call) (any, *apiError) {
	txs, aerr := c.editTransactions(maniphestEditTypes)
	if aerr != nil {
		return nil, aerr
	}
	var t *task
	if ident, ok := c.value("objectIdentifier"); ok {
		if t, aerr = s.resolveTask(c.viewer, ident); aerr != nil {
			return nil, aerr
		}
	}
	edited, xs, aerr := s.editTask(c.viewer, t, txs, true)
	if aerr != nil {
		return nil, aerr
	}
	return s.finishEdit(c, edited.id, edited.phid, t == nil, txs, xs), nil
}

// editTask creates (t == nil) or edits a task. checks is false for
// seeding, which skips capability and policy validation.
func (s *Server) editTask(actor *user, t *task, txs []txSpec, checks bool) (*task, []*xact, *apiError) {
	e := &taskEdit{s: s, actor: actor, now: s.now(), creating: t == nil, subsEntry: -1}
	if e.creating {
		e.next = task{status: "open", priority: 90, viewPolicy: PolicyUsers, editPolicy: PolicyUsers, authorPHID: actor.phid}
		e.entries = append(e.entries, xactEntry{typ: "create"})
	} else {
		if checks {
			if aerr := s.checkTaskEditable(actor, t, txs); aerr != nil {
				return nil, nil, aerr
			}
		}
		e.next = t.clone()
	}
	for i, tx := range txs {
		if aerr := e.apply(fmt.Sprintf("transactions.%d.value", i), tx); aerr != nil {
			return nil, nil, aerr
		}
	}
	judged := e.implicitSubscriptions()
	if e.creating {
		if checks && strings.TrimSpace(e.next.title) == "" {
			return nil, nil, errValidation("Tasks must have a title.")
		}
		e.subscribeAuthor()
	}
	if checks && e.policyTouched {
		// The actor must still pass the policies being set, judged on the
		// edited task (subscribers, owner and all). Unknown policy strings
		// fail the same way (fact 25).
		if !e.creating || e.subsEntry >= 0 {
			judged = e.next
		}
		if aerr := s.checkTaskPolicies(actor, &judged); aerr != nil {
			return nil, nil, aerr
		}
	}
	return s.commitTaskEdit(e, t)
}

// checkTaskEditable reports whether actor may make the edits txs to t.
// Commenting needs only to see the task (interact follows the view
// policy); subscribers follow their own rule (subscribersNeedEdit); every
// other change needs the edit policy.
func (s *Server) checkTaskEditable(actor *user, t *task, txs []txSpec) *apiError {
	for _, tx := range txs {
		need := tx.typ != "comment"
		if strings.HasPrefix(tx.typ, "subscribers.") {
			need = s.subscribersNeedEdit(tx, actor, t)
		}
		if need && !s.canTask(actor, t, canEdit) {
			return s.taskDenied(actor, t, canEdit)
		}
	}
	return nil
}

// checkTaskPolicies refuses an edit whose actor would not pass the view
// and edit policies of the task it leaves behind.
func (s *Server) checkTaskPolicies(actor *user, judged *task) *apiError {
	var problems []string
	if !s.canTask(actor, judged, canView) {
		problems = append(problems, problemViewPolicy)
	}
	if !s.canTask(actor, judged, canEdit) {
		problems = append(problems, problemEditPolicy)
	}
	if len(problems) > 0 {
		return errValidation(problems...)
	}
	return nil
}

// taskEdit is one maniphest.edit in progress: the task as it will be and
// the transactions that say how it got so.
type taskEdit struct {
	s        *Server
	actor    *user
	now      int64
	creating bool
	next     task
	entries  []xactEntry

	subsEntry     int // index of the first subscribers entry, -1 for none
	subsOps       []operation
	policyTouched bool
	commented     bool
	closedNow     bool
	mentioned     []string // comment texts, for their @mentions
	formerOwner   string   // the owner an owner edit replaced
}

func (e *taskEdit) record(typ string, fields map[string]any) {
	e.entries = append(e.entries, xactEntry{typ: typ, fields: fields})
}

// apply applies one transaction to the task; field names its value in an
// error.
func (e *taskEdit) apply(field string, tx txSpec) *apiError {
	switch tx.typ {
	case "title", "description":
		return e.setText(field, tx)
	case "status":
		return e.setStatus(field, tx)
	case "owner":
		return e.setOwner(field, tx)
	case "priority":
		return e.setPriority(tx)
	case "view", "edit":
		return e.setPolicy(field, tx)
	case "subscribers.add", "subscribers.remove", "subscribers.set",
		"projects.add", "projects.remove", "projects.set":
		return e.editList(field, tx)
	case "parents.add", "parents.remove", "parents.set":
		return e.editParents(field, tx)
	case "comment":
		return e.comment(field, tx)
	}
	return coreError("phabtest: maniphest.edit transaction type %q is not implemented", tx.typ)
}

func (e *taskEdit) setText(field string, tx txSpec) *apiError {
	v, aerr := readString(field, tx.value)
	if aerr != nil {
		return aerr
	}
	cur := &e.next.title
	if tx.typ == "description" {
		cur = &e.next.description
	}
	if v != *cur {
		e.record(tx.typ, oldNew(*cur, v))
		*cur = v
	}
	return nil
}

func (e *taskEdit) setStatus(field string, tx txSpec) *apiError {
	v, aerr := readString(field, tx.value)
	if aerr != nil {
		return aerr
	}
	if v == e.next.status {
		return nil
	}
	old := e.next.status
	e.record("status", oldNew(old, v))
	e.next.status = v
	switch {
	case isClosedStatus(v) && !isClosedStatus(old):
		e.closedNow = true
		e.next.closerPHID, e.next.closed = e.actor.phid, e.now
		if e.next.ownerPHID == "" {
			// Closing an unassigned task assigns it to the closer
			// (fact 27).
			e.record("owner", oldNew(nil, e.actor.phid))
			e.next.ownerPHID = e.actor.phid
		}
	case v == "open":
		e.next.closerPHID, e.next.closed = "", 0
	}
	return nil
}

func (e *taskEdit) setOwner(field string, tx txSpec) *apiError {
	var v string
	if tx.value != nil {
		var aerr *apiError
		if v, aerr = readString(field, tx.value); aerr != nil {
			return aerr
		}
	}
	if v != e.next.ownerPHID {
		e.record("owner", oldNew(nullable(e.next.ownerPHID), nullable(v)))
		if e.next.ownerPHID != "" {
			e.formerOwner = e.next.ownerPHID
		}
		e.next.ownerPHID = v
	}
	return nil
}

func (e *taskEdit) setPriority(tx txSpec) *apiError {
	p, ok := parsePriority(tx.value)
	if !ok {
		return errValidation(fmt.Sprintf("Task priority %v is not a valid priority.", tx.value))
	}
	if p != e.next.priority {
		e.record("priority", oldNew(e.next.priority, p))
		e.next.priority = p
	}
	return nil
}

func (e *taskEdit) setPolicy(field string, tx txSpec) *apiError {
	v, aerr := readString(field, tx.value)
	if aerr != nil {
		return aerr
	}
	e.policyTouched = true
	cur, typ := &e.next.viewPolicy, "core:view-policy"
	if tx.typ == "edit" {
		cur, typ = &e.next.editPolicy, "core:edit-policy"
	}
	if e.creating || v != *cur {
		var old any = *cur
		if e.creating {
			old = nil
		}
		e.record(typ, oldNew(old, v))
		*cur = v
	}
	return nil
}

// editList applies subscribers.* and projects.* edits.
func (e *taskEdit) editList(field string, tx txSpec) *apiError {
	vals, aerr := readStringList(field, tx.value, false)
	if aerr != nil {
		return aerr
	}
	kind, verb, _ := strings.Cut(tx.typ, ".")
	list := &e.next.projects
	if kind == "subscribers" {
		list, vals = &e.next.subscribers, e.s.resolveUsernames(vals)
	}
	ops := applyListEdit(list, verb, vals)
	if kind == "subscribers" {
		e.trackUnsubscribed(ops)
	}
	if len(ops) > 0 {
		if kind == "subscribers" && e.subsEntry < 0 {
			e.subsEntry, e.subsOps = len(e.entries), ops
		}
		e.record(kind, operationsField(ops))
	}
	return nil
}

// trackUnsubscribed remembers who unsubscribed themselves, whom a later
// comment of theirs does not subscribe again (fact 27), and forgets it
// when they are added back.
func (e *taskEdit) trackUnsubscribed(ops []operation) {
	for _, op := range ops {
		switch {
		case op.Operation == "remove" && op.PHID == e.actor.phid:
			e.next.unsubscribed = append(e.next.unsubscribed, e.actor.phid)
		case op.Operation == "add":
			e.next.unsubscribed = slices.DeleteFunc(e.next.unsubscribed, func(p string) bool { return p == op.PHID })
		}
	}
}

func (e *taskEdit) editParents(field string, tx txSpec) *apiError {
	vals, aerr := readStringList(field, tx.value, false)
	if aerr != nil {
		return aerr
	}
	_, verb, _ := strings.Cut(tx.typ, ".")
	if ops := applyListEdit(&e.next.parents, verb, vals); len(ops) > 0 {
		// Edge transactions have no Conduit type (like fact 33).
		e.entries = append(e.entries, xactEntry{nullType: true})
	}
	return nil
}

func (e *taskEdit) comment(field string, tx txSpec) *apiError {
	v, aerr := readString(field, tx.value)
	if aerr != nil {
		return aerr
	}
	phid := e.actor.phid
	if !e.creating && !slices.Contains(e.next.subscribers, phid) && !slices.Contains(e.next.unsubscribed, phid) {
		// Commenting auto-subscribes the commenter (fact 27), unless they
		// unsubscribed themselves earlier.
		e.next.subscribers = append(e.next.subscribers, phid)
		e.record("subscribers", operationsField([]operation{{"add", phid}}))
	}
	e.entries = append(e.entries, xactEntry{typ: "comment", comment: &v})
	e.commented = true
	e.mentioned = append(e.mentioned, v)
	return nil
}

// implicitSubscriptions subscribes the former owner of a reassigned task
// and the users the comments @mention, and returns the task as Phorge
// judges a new task's policies: before the mentions, and (unless the call
// has a subscribers transaction) before the author's own subscription.
// Seen on the lab: title + view=subscribers alone is refused, the same
// with subscribers.add of anyone succeeds.
func (e *taskEdit) implicitSubscriptions() task {
	if e.formerOwner != "" && e.formerOwner != e.next.ownerPHID && !slices.Contains(e.next.subscribers, e.formerOwner) {
		// Reassigning a task subscribes its former owner, in the same
		// edit and under the editor's name (seen on the lab: the bot's
		// unassignment left the outsider it unassigned subscribed).
		e.next.subscribers = append(e.next.subscribers, e.formerOwner)
		e.record("subscribers", operationsField([]operation{{"add", e.formerOwner}}))
	}
	judged := e.next
	if ops := e.s.mentionSubscriptions(&e.next, e.mentioned); len(ops) > 0 {
		e.record("subscribers", operationsField(ops))
	}
	return judged
}

// subscribeAuthor subscribes a new task's author, first, inside the
// subscribers transaction if there is one (fact 25).
func (e *taskEdit) subscribeAuthor() {
	if slices.Contains(e.next.subscribers, e.actor.phid) {
		return
	}
	e.next.subscribers = append([]string{e.actor.phid}, e.next.subscribers...)
	op := operation{"add", e.actor.phid}
	if e.subsEntry >= 0 {
		e.entries[e.subsEntry].fields = operationsField(append([]operation{op}, e.subsOps...))
	} else {
		e.record("subscribers", operationsField([]operation{op}))
	}
}

// commitTaskEdit stores the edited task (t, or a new one) and its
// transactions and feed story.
func (s *Server) commitTaskEdit(e *taskEdit, t *task) (*task, []*xact, *apiError) {
	if e.creating {
		e.next.id = len(s.tasks) + 1
		e.next.phid = s.newPHID("TASK")
		e.next.created = e.now
		e.next.modified = e.now
		t = &e.next
		s.tasks = append(s.tasks, t)
		s.taskByID[t.phid] = t
	} else if len(e.entries) > 0 {
		e.next.modified = e.now
		*t = e.next
	} else {
		// Phorge saves the task even when every transaction was dropped
		// as having no effect: its dateModified moves all the same
		// (NOTES fact 47).
		t.modified = e.now
	}
	if len(e.entries) == 0 {
		return t, nil, nil
	}
	xs := s.addXacts(t.phid, "TASK", e.actor.phid, e.entries)
	var text string
	switch {
	case e.creating:
		text = "%s created %s."
	case e.closedNow:
		text = "%s closed %s as \"" + statusName(t.status) + "\"."
	case e.commented:
		text = "%s added a comment to %s."
	default:
		text = "%s updated %s."
	}
	s.addStory(e.actor.phid, t.phid, xs, fmt.Sprintf(text, e.actor.username, s.handleName(t.phid)))
	return t, xs, nil
}

// applyListEdit applies an add/remove/set to list and returns the
// effective operations; values with no effect produce none, which is how a
// no-op edit ends with transactions [] (fact 28).
func applyListEdit(list *[]string, verb string, vals []string) []operation {
	var ops []operation
	add := func(v string) {
		if !slices.Contains(*list, v) {
			*list = append(*list, v)
			ops = append(ops, operation{"add", v})
		}
	}
	remove := func(v string) {
		if i := slices.Index(*list, v); i >= 0 {
			*list = slices.Delete(*list, i, i+1)
			ops = append(ops, operation{"remove", v})
		}
	}
	switch verb {
	case "add":
		for _, v := range vals {
			add(v)
		}
	case "remove":
		for _, v := range vals {
			remove(v)
		}
	case "set":
		for _, v := range slices.Clone(*list) {
			if !slices.Contains(vals, v) {
				remove(v)
			}
		}
		for _, v := range vals {
			add(v)
		}
	}
	return ops
}

// resolveUsernames maps usernames (and @usernames) to PHIDs; PHIDs and
// unknown strings pass through unchanged.
func (s *Server) resolveUsernames(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = v
		if !strings.HasPrefix(v, "PHID-") {
			if u := s.userByName(strings.TrimPrefix(v, "@")); u != nil {
				out[i] = u.phid
			}
		}
	}
	return out
}

func parsePriority(v any) (int, bool) {
	if n, ok := asInt(v); ok {
		return int(n), true
	}
	if s, ok := v.(string); ok {
		for p, info := range priorities {
			if info.keyword == s {
				return p, true
			}
		}
	}
	return 0, false
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type taskRow struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	PHID        string         `json:"phid"`
	Fields      taskFields     `json:"fields"`
	Attachments map[string]any `json:"attachments"`
}

type taskFields struct {
	Name               string            `json:"name"`
	Description        map[string]string `json:"description"`
	AuthorPHID         string            `json:"authorPHID"`
	OwnerPHID          any               `json:"ownerPHID"`
	Status             map[string]any    `json:"status"`
	Priority           map[string]any    `json:"priority"`
	Points             any               `json:"points"`
	Subtype            string            `json:"subtype"`
	CloserPHID         any               `json:"closerPHID"`
	DateClosed         any               `json:"dateClosed"`
	GroupByProjectPHID any               `json:"groupByProjectPHID"`
	SpacePHID          any               `json:"spacePHID"`
	DateCreated        int64             `json:"dateCreated"`
	DateModified       int64             `json:"dateModified"`
	Policy             map[string]string `json:"policy"`
}

func (t *task) fields() taskFields {
	pname, pcolor := priorityName(t.priority)
	f := taskFields{
		Name:        t.title,
		Description: map[string]string{"raw": t.description},
		AuthorPHID:  t.authorPHID,
		OwnerPHID:   nullable(t.ownerPHID),
		Status:      map[string]any{"value": t.status, "name": statusName(t.status), "color": nil},
		Priority:    map[string]any{"value": t.priority, "name": pname, "color": pcolor},
		Subtype:     "default",
		CloserPHID:  nullable(t.closerPHID),
		SpacePHID:   nullable(t.space),
		DateCreated: t.created, DateModified: t.modified,
		// The interact policy follows the view policy.
		Policy: map[string]string{"view": t.viewPolicy, "interact": t.viewPolicy, "edit": t.editPolicy},
	}
	if t.closed != 0 {
		f.DateClosed = t.closed
	}
	return f
}

// reversed returns l newest first, the order the server lists subscribers
// in (maniphest.info ccPHIDs, the subscribers attachment).
func reversed(l []string) []string {
	out := slices.Clone(l)
	slices.Reverse(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func (s *Server) maniphestSearch(c *call) (any, *apiError) {
	queryKey, aerr := c.queryKey()
	if aerr != nil {
		return nil, aerr
	}
	known := map[string]constraintKind{
		"ids": cInts, "phids": cStrings, "authorPHIDs": cStrings, "assigned": cStrings,
		"statuses": cStrings, "projects": cStrings, "subscribers": cStrings, "closerPHIDs": cStrings,
		"createdStart": cEpoch, "createdEnd": cEpoch, "modifiedStart": cEpoch, "modifiedEnd": cEpoch,
	}
	if len(s.spaces) > 0 {
		// The constraint exists only once a Space does (fact 56).
		known["spaces"] = cStrings
	}
	cons, aerr := c.constraints(known)
	if aerr != nil {
		return nil, aerr
	}
	att, aerr := c.attachments("subscribers", "projects", "columns")
	if aerr != nil {
		return nil, aerr
	}
	order, rawOrder, aerr := c.order(map[string]rowOrder{"newest": {}, "oldest": {idAsc: true}}, rowOrder{})
	if aerr != nil {
		return nil, aerr
	}
	p, aerr := c.pageParams("task.id")
	if aerr != nil {
		return nil, aerr
	}
	var rows []*task
	for _, t := range named(cons, s.tasks, s.taskByID) {
		// Restricted tasks are silently omitted, for admins too (fact 23).
		if s.canTask(c.viewer, t, canView) && taskMatches(t, cons, s.defaultSpace()) {
			rows = append(rows, t)
		}
	}
	keys := sortRows(rows, order, func(t *task) sortKey { return sortKey{id: t.id} })
	idx, cur, aerr := paginate(keys, order, p, nil, "ManiphestTaskQuery")
	if aerr != nil {
		return nil, aerr
	}
	data := []taskRow{}
	for _, i := range idx {
		t := rows[i]
		row := taskRow{ID: t.id, Type: "TASK", PHID: t.phid, Fields: t.fields(), Attachments: map[string]any{}}
		if att["subscribers"] {
			subs := reversed(t.subscribers)
			// Capped at 10; subscriberCount is the true total (fact 24).
			row.Attachments["subscribers"] = map[string]any{
				"subscriberPHIDs":    subs[:min(10, len(subs))],
				"subscriberCount":    len(subs),
				"viewerIsSubscribed": slices.Contains(t.subscribers, c.viewer.phid),
			}
		}
		if att["projects"] {
			row.Attachments["projects"] = map[string]any{"projectPHIDs": append([]string{}, t.projects...)}
		}
		if att["columns"] {
			row.Attachments["columns"] = map[string]any{"boards": []any{}}
		}
		data = append(data, row)
	}
	return newSearchResult(data, nil, queryKey, cur, rawOrder), nil
}

// defaultSpace is the default Space's PHID, "" when there is none.
func (s *Server) defaultSpace() string {
	if len(s.spaces) == 0 {
		return ""
	}
	return s.spaces[0]
}

// AddSpace creates a Space and returns its PHID; the first one is the
// default Space, which holds every object without a Space of its own
// (fact 56).
func (s *Server) AddSpace() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	phid := s.newPHID("SPCE")
	s.spaces = append(s.spaces, phid)
	return phid
}

// statusMatches reports whether status is one of want, where "open()"
// and "closed()" stand for every open or closed status (fact 57).
func statusMatches(want []string, status string) bool {
	return slices.ContainsFunc(want, func(w string) bool {
		switch w {
		case "open()":
			return !isClosedStatus(status)
		case "closed()":
			return isClosedStatus(status)
		}
		return w == status
	})
}

func taskMatches(t *task, cons map[string]any, defaultSpace string) bool {
	for k, v := range cons {
		var ok bool
		switch k {
		case "ids":
			ok = slices.Contains(v.([]int), t.id)
		case "phids":
			ok = slices.Contains(v.([]string), t.phid)
		case "authorPHIDs":
			ok = slices.Contains(v.([]string), t.authorPHID)
		case "assigned":
			ok = slices.Contains(v.([]string), t.ownerPHID)
		case "closerPHIDs":
			ok = slices.Contains(v.([]string), t.closerPHID)
		case "statuses":
			ok = statusMatches(v.([]string), t.status)
		case "spaces":
			ok = slices.Contains(v.([]string), cmp.Or(t.space, defaultSpace))
		case "projects":
			ok = true
			for _, p := range v.([]string) {
				ok = ok && slices.Contains(t.projects, p)
			}
		case "subscribers":
			ok = slices.ContainsFunc(v.([]string), func(p string) bool { return slices.Contains(t.subscribers, p) })
		case "createdStart":
			ok = t.created >= v.(int64)
		case "createdEnd":
			ok = t.created <= v.(int64)
		case "modifiedStart":
			ok = t.modified >= v.(int64)
		case "modifiedEnd":
			ok = t.modified <= v.(int64)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (s *Server) maniphestInfo(c *call) (any, *apiError) {
	raw, ok := c.value("task_id")
	id, isInt := asInt(raw)
	if !ok || !isInt {
		return nil, &apiError{code: codeBadTask, info: "No such Maniphest task exists."}
	}
	t := s.taskByNumber(int(id))
	if t == nil {
		return nil, &apiError{code: codeBadTask, info: "No such Maniphest task exists."}
	}
	if !s.canTask(c.viewer, t, canView) {
		return nil, s.taskDenied(c.viewer, t, canView) // fact 23
	}
	pname, pcolor := priorityName(t.priority)
	var dependsOn []string
	for _, o := range s.tasks {
		if slices.Contains(o.parents, t.phid) && s.canTask(c.viewer, o, canView) {
			dependsOn = append(dependsOn, o.phid)
		}
	}
	return map[string]any{
		"id":                 strconv.Itoa(t.id),
		"phid":               t.phid,
		"authorPHID":         t.authorPHID,
		"ownerPHID":          nullable(t.ownerPHID),
		"ccPHIDs":            reversed(t.subscribers), // complete, unlike the attachment (fact 24)
		"status":             t.status,
		"statusName":         statusName(t.status),
		"isClosed":           isClosedStatus(t.status),
		"priority":           pname,
		"priorityColor":      pcolor,
		"title":              t.title,
		"description":        t.description,
		"projectPHIDs":       append([]string{}, t.projects...),
		"uri":                s.URL() + "/" + t.monogram(),
		"auxiliary":          []any{},
		"objectName":         t.monogram(),
		"dateCreated":        strconv.FormatInt(t.created, 10),
		"dateModified":       strconv.FormatInt(t.modified, 10),
		"dependsOnTaskPHIDs": append([]string{}, dependsOn...),
	}, nil
}

func (s *Server) maniphestStatusSearch(*call) (any, *apiError) {
	return map[string]any{"data": []map[string]any{
		{"name": "Open", "value": "open", "closed": false, "special": "default"},
		{"name": "Resolved", "value": "resolved", "closed": true, "special": "closed"},
		{"name": "Wontfix", "value": "wontfix", "closed": true},
		{"name": "Invalid", "value": "invalid", "closed": true},
		{"name": "Duplicate", "value": "duplicate", "closed": true, "special": "duplicate"},
		{"name": "Spite", "value": "spite", "closed": true},
	}}, nil
}

var edgeTypes = []string{
	"task.parent", "task.subtask", "mention", "mentioned-in",
	"revision.parent", "revision.child", "revision.task", "task.revision",
	"commit.revision", "revision.commit", "commit.task", "task.commit",
}

// edgeSearch knows only the task parent/subtask edges; there are no
// subscriber or member edges (fact 37).
func (s *Server) edgeSearch(c *call) (any, *apiError) {
	rawTypes, ok := c.value("types")
	types, aerr := readStringList("types", rawTypes, true)
	if !ok || aerr != nil {
		return nil, &apiError{code: codeEdgeMissingTypes, info: `Must pass an array of edge types for parameter "types".`}
	}
	for _, t := range types {
		if !slices.Contains(edgeTypes, t) {
			return nil, &apiError{code: codeEdgeBadTypes, info: `Invalid edge type(s) included for parameter "types".`}
		}
	}
	rawSources, _ := c.value("sourcePHIDs")
	sources, aerr := readStringList("sourcePHIDs", rawSources, true)
	if aerr != nil {
		return nil, aerr
	}
	p, aerr := c.pageParams("edge.id")
	if aerr != nil {
		return nil, aerr
	}
	var data []map[string]string
	for _, src := range sources {
		t := s.taskByID[src]
		if t == nil || !s.canTask(c.viewer, t, canView) {
			return nil, &apiError{code: codeEdgeBadSources, info: `Invalid PHID(s) included for parameter "sourcePHIDs".`}
		}
		for _, typ := range types {
			var dsts []string
			switch typ {
			case "task.parent":
				dsts = t.parents
			case "task.subtask":
				for _, o := range s.tasks {
					if slices.Contains(o.parents, t.phid) {
						dsts = append(dsts, o.phid)
					}
				}
			}
			for _, d := range dsts {
				data = append(data, map[string]string{"sourcePHID": t.phid, "edgeType": typ, "destinationPHID": d})
			}
		}
	}
	if data == nil {
		data = []map[string]string{}
	}
	data = data[:min(len(data), p.limit)]
	return map[string]any{"data": data, "cursor": cursorOut{Limit: p.rawLimit}}, nil
}

// mentionRE finds @username mentions in Remarkup (not inside a word, as
// PhabricatorMentionRemarkupRule).
var mentionRE = regexp.MustCompile(`(?:^|[^\w@])@([A-Za-z0-9._-]*[A-Za-z0-9_-])`)

// mentionSubscriptions subscribes the users a comment @mentions, as
// PhabricatorApplicationTransactionEditor::buildSubscribeTransaction does:
// not bots, not users who cannot see the task (on a subscribers-only task
// a mention subscribes nobody: checked on the lab, TestPhorgeSemantics),
// not those already subscribed. A #project hashtag subscribes nobody.
func (s *Server) mentionSubscriptions(t *task, texts []string) []operation {
	var ops []operation
	for _, text := range texts {
		for _, m := range mentionRE.FindAllStringSubmatch(text, -1) {
			u := s.userByName(m[1])
			if u == nil || u.bot || slices.Contains(t.subscribers, u.phid) || !s.canTask(u, t, canView) {
				continue
			}
			t.subscribers = append(t.subscribers, u.phid)
			ops = append(ops, operation{"add", u.phid})
		}
	}
	return ops
}
