// Package conduit is auditbot's Conduit layer: a small, typed client for the
// subset of the Phabricator/Phorge Conduit API the bot uses, built on
// github.com/uber/gonduit. It speaks the API exactly as a real Phorge answers
// it (see the recordings in testdata/conduit/ at the module root): params as
// JSON with the token inside __conduit__, HTTP 200 errors with
// error_code/error_info, paging that ends when the cursor's after is null,
// and policy denials as ERR-CONDUIT-CORE texts starting "[You Shall Not Pass".
package conduit

import (
	"encoding/json"
	"slices"
	"time"
)

// Policy values Phabricator understands for view and edit policies.
const (
	PolicyPublic      = "public"
	PolicyUsers       = "users"
	PolicyAdmin       = "admin"
	PolicyNoOne       = "no-one"
	PolicySubscribers = "obj.subscriptions.subscribers"
	PolicyMembers     = "obj.project.members"
)

// User is one account as user.search returns it. user.search carries no MFA
// flag: whether a user has MFA is only known by asking with the admin-only
// mfa constraint.
type User struct {
	ID       int
	PHID     string
	Username string
	RealName string
	// Roles as returned in fields.roles: admin, bot, list, disabled,
	// verified, approved, activated.
	Roles []string
	// Created is when the account was created (fields.dateCreated); zero
	// if the server did not say.
	Created time.Time
}

// HasRole reports whether the user carries the given role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// IsDisabled reports whether the account is disabled.
func (u User) IsDisabled() bool { return u.HasRole("disabled") }

// IsBot reports whether the account is a bot.
func (u User) IsBot() bool { return u.HasRole("bot") }

// IsMailingList reports whether the account is a mailing list.
func (u User) IsMailingList() bool { return u.HasRole("list") }

// IsAdmin reports whether the account is an administrator.
func (u User) IsAdmin() bool { return u.HasRole("admin") }

// Whoami is the account behind the token, as user.whoami returns it. Note
// that user.whoami says "agent" where user.search says "bot".
type Whoami struct {
	PHID         string
	Username     string
	RealName     string
	Roles        []string
	PrimaryEmail string
}

// IsAdmin reports whether the token's account is an administrator.
func (w Whoami) IsAdmin() bool { return slices.Contains(w.Roles, "admin") }

// UserQuery selects users for SearchUsers. Nil pointers leave a constraint
// out. MFA is admin-only on the server: a non-admin token gets
// ErrInvalidConstraint.
type UserQuery struct {
	PHIDs      []string
	Usernames  []string
	MFA        *bool
	IsDisabled *bool
	IsBot      *bool
}

// ProjectPolicy is a project's view, edit and join policy.
type ProjectPolicy struct {
	View string
	Edit string
	Join string
}

// Project is one project (an access group) as project.search returns it.
type Project struct {
	ID     int
	PHID   string
	Name   string
	Slug   string
	Policy ProjectPolicy
	// MemberPHIDs is the complete member list; filled only when members were
	// asked for. It is unsorted on the server and may hold non-user PHIDs.
	MemberPHIDs []string
}

// Object is one phid.lookup result.
type Object struct {
	PHID     string
	Type     string
	TypeName string
	Name     string
	FullName string
	URI      string
	Status   string
}

// Task is one Maniphest task as maniphest.search returns it.
type Task struct {
	ID          int
	PHID        string
	Title       string
	Description string
	AuthorPHID  string
	OwnerPHID   string
	Status      string
	ViewPolicy  string
	EditPolicy  string
	// SpacePHID is the task's Space; "" when the install has none (null).
	SpacePHID    string
	ProjectPHIDs []string
	// SubscriberPHIDs is truncated to 10 by the server; SubscriberCount is
	// the true total. Use TaskSubscribers for the full set.
	SubscriberPHIDs    []string
	SubscriberCount    int
	ViewerIsSubscribed bool
	DateCreated        time.Time
	DateModified       time.Time
	// ReadAt is the server's clock when it answered the page that carried
	// the task (its HTTP Date header, whole seconds; zero when unknown):
	// a change made after the task was read has a DateModified at or
	// after it (dateModified is the server's clock too, NOTES fact 47).
	ReadAt time.Time
}

// TaskQuery selects tasks for SearchTasks. Restricted tasks the viewer
// cannot see are silently omitted by the server.
type TaskQuery struct {
	IDs          []int
	PHIDs        []string
	AuthorPHIDs  []string
	ProjectPHIDs []string
	Statuses     []string
	// SpacePHIDs keeps tasks in one of these Spaces.
	SpacePHIDs []string
	// CreatedStart, if not zero, keeps tasks created at or after it.
	CreatedStart time.Time
}

// TaskSpec is what CreateTask files.
type TaskSpec struct {
	Title           string
	Description     string
	SubscriberPHIDs []string
	ProjectPHIDs    []string
	ViewPolicy      string
	EditPolicy      string
}

// Edit is one maniphest.edit or project.edit transaction.
type Edit struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Edit constructors for the transactions the bot uses.
func CommentEdit(text string) Edit { return Edit{Type: "comment", Value: text} }

// StatusEdit sets a task's status. The server accepts any string, so callers
// must only pass known statuses.
func StatusEdit(status string) Edit { return Edit{Type: "status", Value: status} }

// AddSubscribersEdit subscribes PHIDs to a task.
func AddSubscribersEdit(phids ...string) Edit {
	return Edit{Type: "subscribers.add", Value: phids}
}

// EditResult is what an *.edit call answers: the object and the PHIDs of
// the transactions it applied (empty for a no-op edit).
type EditResult struct {
	ObjectID         int
	ObjectPHID       string
	TransactionPHIDs []string
}

// Transaction is one transaction.search row.
type Transaction struct {
	ID          int
	PHID        string
	Type        string // "" when the server returns null (project edits)
	AuthorPHID  string
	ObjectPHID  string
	DateCreated time.Time
	// DateModified moves when a comment is edited (fact 45): an edit does
	// not bring the transaction back past a read cursor, only this shows it.
	DateModified time.Time
	// Comments lists every version of the comment as the server sent them
	// (Phorge: newest first). Use CurrentComment, not a list position.
	Comments []Comment
	// Operations for subscribers/projects transactions.
	Operations []Operation
	// Old and New for transactions that carry them (status, policies...),
	// as the server sent them: a JSON null (no previous policy) stays "null".
	Old json.RawMessage
	New json.RawMessage
}

// Comment is one version of a comment on a transaction.
type Comment struct {
	ID   int
	PHID string
	// Version counts edits: 1 is the original text, each edit adds one.
	Version    int
	AuthorPHID string
	Raw        string
	Removed    bool
}

// CurrentComment returns the transaction's current comment: the highest
// version, whatever the list order. ok is false when the transaction has
// no comment. A removed (deleted) comment is current too, with Removed set
// and no text: a deleted comment says nothing, and an older version must
// not come back in its place.
func (t *Transaction) CurrentComment() (c Comment, ok bool) {
	for i, v := range t.Comments {
		if i == 0 || v.Version > c.Version {
			c = v
		}
	}
	return c, len(t.Comments) > 0
}

// Operation is an add or remove in a subscribers or projects transaction.
type Operation struct {
	Operation string // "add" or "remove"
	PHID      string
}
