package bot

// Every Conduit read of the engine is in this file: what the deciders
// know of Phabricator comes from here, and nowhere else asks it anything
// (apply.go is where the engine writes). A chore reads what it needs
// before it decides; reads that a tick shares (the groups' members, the
// approvers, the team) are made once per tick and kept in the run.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/conduit"
	"github.com/auditbot/auditbot/state"
	"github.com/rs/zerolog"
)

// reader is the engine's one way to read Phabricator: every Conduit read
// is one of its methods, and the view a decision takes is built by
// observe. It shares the bot's connection (and so the tick's breaker).
type reader struct {
	conn     *conn
	store    *state.Store
	cfg      *campaigns.Config
	words    *wording
	activity activitySource
	ledger   memberLedger
	now      func() time.Time
	log      zerolog.Logger

	whoamiOnce sync.Once
	whoami     conduit.Whoami
	whoamiErr  error
}

// view is everything one decision may look at: the campaign, the time,
// the recorded state as the previous step left it, and what Phabricator
// said, read by observe before the decision. A decider reads nothing
// else and calls nothing, so a test builds a view literal and compares
// the intents it returns.
//
// A nil map or slice of Phabricator's means "not read": a decider that
// needs it was called without observing it first, which needsOf and the
// table tests keep from happening.
type view struct {
	now  time.Time
	c    *campaigns.Campaign
	snap state.Snapshot
	// words renders texts; cfg is the bot's configuration.
	words *wording
	cfg   *campaigns.Config
	// members maps each audited group's PHID to its live members.
	members map[string][]string
	// approvers are the approvers' project's live members.
	approvers []string
	// users are the accounts the decision names, by PHID.
	users map[string]conduit.User
	// texts are the current texts of comments read again (an edit keeps
	// the transaction and changes its text, fact 45), by transaction
	// PHID; a comment the server did not return is missing.
	texts map[string]string
	// live maps each criterion (reason) to the users who fail it now,
	// keeps not applied (failsNow applies them).
	live map[string]map[string]conduit.User

	// teamTag is the team project's hashtag ("#security-team").
	teamTag string
	// gatekeepers are the campaign's team and approvers' projects, as
	// read this tick.
	gatekeepers []conduit.Project
	// tasks are the tasks read (maniphest.search: fields, policies, up
	// to ten subscribers), by PHID, once per tick (campaignTasks); a task
	// the bot may not see is missing (NOTES fact 23).
	tasks map[string]conduit.Task

	// memberSet and index are members and findings indexed by PHID,
	// built once, by the first decision that asks (viewindex.go).
	memberSet map[string]map[string]bool
	index     *findingIndex
}

// rec is the campaign's recorded state.
func (v *view) rec() *state.Campaign { return &v.snap.Campaign }

// member reports whether user is a live member of group.
func (v *view) member(group, user string) bool {
	if v.memberSet == nil {
		v.memberSet = memberSets(v.members)
	}
	return v.memberSet[group][user]
}

// failsNow reports whether f fails any of its reasons now, keeps applied.
func (v *view) failsNow(f state.Finding) bool { return failsAny(f, v.live) }

// finding is the finding of the user named username (any case, with or
// without "@").
func (v *view) finding(username string) (state.Finding, bool) { return findingNamed(&v.snap, username) }

// findingOf is the finding of the user with this PHID.
func (v *view) findingOf(userPHID string) (state.Finding, bool) {
	return v.findings().finding(userPHID)
}

// batch is task batch index as recorded.
func (v *view) batch(index int) (state.Batch, bool) { return batchIn(&v.snap, index) }

// findingNamed is snap's finding of the user named username (any case,
// with or without "@").
func findingNamed(snap *state.Snapshot, username string) (state.Finding, bool) {
	username = strings.TrimPrefix(username, "@")
	for _, f := range snap.Findings {
		if strings.EqualFold(f.Username, username) {
			return f, true
		}
	}
	return state.Finding{}, false
}

// findingIn is snap's finding of the user with this PHID.
func findingIn(snap *state.Snapshot, userPHID string) (state.Finding, bool) {
	for _, f := range snap.Findings {
		if f.UserPHID == userPHID {
			return f, true
		}
	}
	return state.Finding{}, false
}

// batchIn is snap's task batch index.
func batchIn(snap *state.Snapshot, index int) (state.Batch, bool) {
	for _, bt := range snap.Batches {
		if bt.Index == index {
			return bt, true
		}
	}
	return state.Batch{}, false
}

// needs says what a decision will look at, beyond the recorded state.
type needs struct {
	members   bool
	approvers bool
	// users are accounts to read, by PHID.
	users []string
	// texts are the comments to read again.
	texts []*state.Source
	// live are the findings to re-check against their criteria now
	// (liveFailures); extra adds users per reason.
	live  []state.Finding
	extra map[string][]string
	// teamTag asks for the team project's hashtag.
	teamTag bool
	// gatekeepers asks for the campaign's team and approvers' projects
	// (read with the groups' members, once per tick).
	gatekeepers bool
	// tasks are tasks to read, by PHID.
	tasks []string
	// fresh reads the approvers' project and the accounts again, not as
	// read earlier in the tick: right before a decision that rests on
	// approvals (a removal, a keep that may fall), an approver disabled or
	// offboarded a moment ago no longer counts.
	fresh bool
}

// accounts reads the accounts of users, each at most once per tick (the
// run keeps them): one user.search for those not read yet. An account
// the server does not return is missing from the answer.
func (b *reader) accounts(ctx context.Context, r *run, users []string) (map[string]conduit.User, error) {
	if r.users == nil {
		r.users = map[string]*conduit.User{}
	}
	var ask []string
	for _, u := range uniq(users) {
		if _, read := r.users[u]; !read {
			ask = append(ask, u)
		}
	}
	if len(ask) > 0 {
		us, err := b.usersByPHID(ctx, ask)
		if err != nil {
			return nil, fmt.Errorf("read accounts: %w", err)
		}
		for _, u := range ask {
			r.users[u] = nil
		}
		for _, u := range us {
			r.users[u.PHID] = &u
		}
	}
	out := map[string]conduit.User{}
	for _, u := range users {
		if acct := r.users[u]; acct != nil {
			out[u] = *acct
		}
	}
	return out, nil
}

// and is what both n and m need.
func (n needs) and(m needs) needs {
	n.members = n.members || m.members
	n.approvers = n.approvers || m.approvers
	n.fresh = n.fresh || m.fresh
	n.users = append(slices.Clone(n.users), m.users...)
	n.texts = append(slices.Clone(n.texts), m.texts...)
	n.live = append(slices.Clone(n.live), m.live...)
	if len(m.extra) > 0 {
		extra := maps.Clone(n.extra)
		if extra == nil {
			extra = map[string][]string{}
		}
		for r, us := range m.extra {
			extra[r] = append(extra[r], us...)
		}
		n.extra = extra
	}
	return n
}

// observe reads what n names and returns the view a decision takes on
// snap, the recorded state as it is now. The groups' and the approvers' members
// are read once per tick (the run keeps them); the rest is read at each
// call, as late as possible: right before the decision that rests on it.
func (b *reader) observe(ctx context.Context, r *run, snap state.Snapshot, n needs) (*view, error) {
	v := &view{now: b.now().UTC(), c: r.c, snap: snap, words: b.words, cfg: b.cfg}
	if err := b.observePeople(ctx, r, n, v); err != nil {
		return nil, err
	}
	if err := b.observeObjects(ctx, r, n, v); err != nil {
		return nil, err
	}
	return v, nil
}

// observePeople reads who is in the groups and the projects that gate
// them, the approvers, and the accounts n names.
func (b *reader) observePeople(ctx context.Context, r *run, n needs, v *view) error {
	var err error
	if n.members || n.gatekeepers {
		if v.members, err = b.liveMembers(ctx, r); err != nil {
			return err
		}
		v.gatekeepers = r.gatekeepers
	}
	if n.fresh {
		// Read again now, whatever this tick read before: what an
		// approval rests on is checked at the time it counts.
		r.approvers = nil
		for _, u := range n.users {
			delete(r.users, u)
		}
	}
	if n.approvers {
		if v.approvers, err = b.approverMembers(ctx, r); err != nil {
			return err
		}
	}
	if len(n.users) > 0 {
		if v.users, err = b.accounts(ctx, r, n.users); err != nil {
			return err
		}
	}
	return nil
}

// observeObjects reads the comments, criteria, team tag and tasks n
// names.
func (b *reader) observeObjects(ctx context.Context, r *run, n needs, v *view) error {
	var err error
	if len(n.texts) > 0 {
		if v.texts, err = b.currentTexts(ctx, n.texts); err != nil {
			return err
		}
	}
	if len(n.live) > 0 || len(n.extra) > 0 {
		if v.live, err = b.liveFailures(ctx, r.c, n.live, n.extra); err != nil {
			return err
		}
	}
	if n.teamTag {
		if v.teamTag, err = b.teamTag(ctx, &v.snap.Campaign); err != nil {
			return err
		}
	}
	if len(n.tasks) > 0 {
		if v.tasks, err = b.campaignTasks(ctx, r, n.tasks); err != nil {
			return err
		}
	}
	return nil
}

// campaignTasks reads the tasks phids names, each at most once per tick
// (the run keeps them): one maniphest.search per 100 tasks not read yet,
// sent concurrently. Their dateModified and the server's clock (ReadAt)
// say which changed since the bot last read them (seen.go). A task the
// bot may not see is missing from the answer (NOTES fact 23).
func (b *reader) campaignTasks(ctx context.Context, r *run, phids []string) (map[string]conduit.Task, error) {
	if r.tasks == nil {
		r.tasks = map[string]*conduit.Task{}
	}
	var ask []string
	for _, p := range uniq(phids) {
		if _, read := r.tasks[p]; !read {
			ask = append(ask, p)
		}
	}
	if len(ask) > 0 {
		ts, err := b.tasksByPHID(ctx, ask)
		if err != nil {
			return nil, err
		}
		for _, p := range ask {
			r.tasks[p] = nil
		}
		for _, t := range ts {
			r.tasks[t.PHID] = &t
		}
	}
	out := make(map[string]conduit.Task, len(phids))
	for _, p := range phids {
		if t := r.tasks[p]; t != nil {
			out[p] = *t
		}
	}
	return out, nil
}

// self returns the bot's own account, asked once per Bot.
func (b *reader) self(ctx context.Context) (conduit.Whoami, error) {
	b.whoamiOnce.Do(func() {
		b.whoami, b.whoamiErr = b.conn.Whoami(ctx)
		if b.whoamiErr != nil {
			b.whoamiErr = fmt.Errorf("bot: whoami: %w", b.whoamiErr)
		}
	})
	return b.whoami, b.whoamiErr
}

// liveMembers fetches the audited groups' members once per tick.
func (b *reader) liveMembers(ctx context.Context, r *run) (map[string][]string, error) {
	if r.members != nil {
		return r.members, nil
	}
	// The team and the approvers' projects come in the same call: their
	// policies are checked every tick (gatekeepers), and their members
	// are then known for the rest of it.
	var phids []string
	for _, g := range r.rec.Groups {
		phids = append(phids, g.PHID)
	}
	for _, p := range []string{r.rec.TeamPHID, r.rec.ApproversPHID} {
		if p != "" && !slices.Contains(phids, p) {
			phids = append(phids, p)
		}
	}
	projects, err := b.conn.ProjectsByPHID(ctx, phids, true)
	if err != nil {
		return nil, fmt.Errorf("read group members: %w", err)
	}
	m := map[string][]string{}
	r.gatekeepers, r.groups = nil, nil
	for _, p := range projects {
		if _, audited := r.rec.GroupByPHID(p.PHID); audited {
			m[p.PHID] = p.MemberPHIDs
			r.groups = append(r.groups, p)
		}
		switch p.PHID {
		case r.rec.ApproversPHID:
			r.gatekeepers = append(r.gatekeepers, p)
			if r.approvers == nil {
				r.approvers = append([]string{}, p.MemberPHIDs...)
			}
		case r.rec.TeamPHID:
			r.gatekeepers = append(r.gatekeepers, p)
			if r.team == nil {
				r.team = append([]string{}, p.MemberPHIDs...)
			}
		}
	}
	for _, g := range r.rec.Groups {
		if _, ok := m[g.PHID]; !ok {
			return nil, fmt.Errorf("group %s is no longer visible to the bot", g.Name)
		}
	}
	r.members = m
	return m, nil
}

// approverMembers fetches the approvers' project's members once per tick:
// approval is checked against Phabricator, never against a name in a file.
func (b *reader) approverMembers(ctx context.Context, r *run) ([]string, error) {
	if r.approvers != nil {
		return r.approvers, nil
	}
	ps, err := b.conn.ProjectsByPHID(ctx, []string{r.rec.ApproversPHID}, true)
	if err != nil {
		return nil, fmt.Errorf("read approvers: %w", err)
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("approvers' project %s is not visible to the bot", r.rec.ApproversName)
	}
	r.approvers = ps[0].MemberPHIDs
	if r.approvers == nil {
		r.approvers = []string{}
	}
	return r.approvers, nil
}

// usersMatching returns which of phids match q, keyed by PHID.
func (b *reader) usersMatching(ctx context.Context, phids []string, q conduit.UserQuery) (map[string]conduit.User, error) {
	out := map[string]conduit.User{}
	if len(phids) == 0 {
		return out, nil
	}
	q.PHIDs = phids
	users, err := b.conn.SearchUsers(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		out[u.PHID] = u
	}
	return out, nil
}

// currentTexts re-reads the comments of these sources and returns each
// transaction's current text by PHID. A comment edited after the bot read
// it does not come back past the read cursor (fact 45), so this is the
// only way to see the edit. A transaction the server does not return is
// missing from the map; an error means nothing could be verified, and the
// caller must not act (fail closed).
func (b *reader) currentTexts(ctx context.Context, sources []*state.Source) (map[string]string, error) {
	byTask := map[string][]string{}
	var tasks []string
	for _, s := range sources {
		if s == nil || s.TxPHID == "" {
			continue
		}
		if _, ok := byTask[s.TaskPHID]; !ok {
			tasks = append(tasks, s.TaskPHID)
		}
		if !slices.Contains(byTask[s.TaskPHID], s.TxPHID) {
			byTask[s.TaskPHID] = append(byTask[s.TaskPHID], s.TxPHID)
		}
	}
	out := map[string]string{}
	for _, task := range tasks {
		txs, err := b.conn.TransactionsByPHID(ctx, task, byTask[task])
		if err != nil {
			return nil, fmt.Errorf("re-read approving comments: %w", err)
		}
		for _, t := range txs {
			out[t.PHID] = commentText(t)
		}
	}
	return out, nil
}

// findComment asks Phabricator whether the bot's comment for key is on
// task: by its marker, among the bot's own comments only, and only in a
// version the bot wrote: a comment keeps every version (NOTES fact 45);
// only its author may edit it, but an administrator may remove it, which
// adds an empty version by the remover.
func (b *reader) findComment(ctx context.Context, rec *state.Campaign, task string, key OpKey) (string, bool, error) {
	txs, err := b.history(ctx, task, 0)
	if err != nil {
		return "", false, err
	}
	for _, t := range txs {
		if t.AuthorPHID != rec.BotPHID {
			continue
		}
		for _, cm := range t.Comments {
			if cm.AuthorPHID == rec.BotPHID && hasMarker(cm.Raw, rec.Name, key) {
				return t.PHID, true, nil
			}
		}
	}
	return "", false, nil
}

// findOwnTask looks for the task the bot filed for op key in an earlier
// run that stopped before recording it. Only what the bot itself wrote
// counts: a task the bot authored, created since the intent, whose creating
// transactions (authored by the bot) set a description carrying key's
// marker. The current description does not count: anyone who may edit the
// task can rewrite it, and a marker forged into another batch's task would
// otherwise make the bot adopt that task and never file this batch's
// (NOTES fact 46). A task another batch already owns is never taken.
func (b *reader) findOwnTask(ctx context.Context, campaign string, key OpKey, botPHID string) (conduit.Task, bool, error) {
	op, err := b.opByKey(campaign, key)
	if err != nil {
		return conduit.Task{}, false, err
	}
	owned := map[string]bool{}
	err = b.store.View(campaign, func(tx *state.CampaignTx) error {
		bts, err := tx.Batches()
		for _, bt := range bts {
			if bt.TaskPHID != "" {
				owned[bt.TaskPHID] = true
			}
		}
		return err
	})
	if err != nil {
		return conduit.Task{}, false, err
	}
	// The server stamps tasks with its own clock, which may be behind the
	// bot's (skew, or a tick run with --now in the future): search from a
	// day before the earlier of the two.
	since := op.CreatedAt
	if wall := time.Now(); wall.Before(since) {
		since = wall
	}
	tasks, err := b.tasksFiledBy(ctx, botPHID, since.Add(-24*time.Hour))
	if err != nil {
		return conduit.Task{}, false, err
	}
	for _, t := range tasks {
		if t.AuthorPHID != botPHID || owned[t.PHID] {
			continue
		}
		txs, err := b.history(ctx, t.PHID, 0)
		if err != nil {
			return conduit.Task{}, false, fmt.Errorf("read the history of T%d: %w", t.ID, err)
		}
		if createdWithMarker(txs, botPHID, campaign, key) {
			return t, true, nil
		}
	}
	return conduit.Task{}, false, nil
}

// createdWithMarker reports whether txs (a task's transactions, oldest
// first) show the task created by botPHID with a description carrying the
// marker for key. The description the creation set is the task's first
// description transaction: it comes right after "create" in the same
// group (transaction.search.T10.all.json), and any later rewrite has a
// higher id. Its "new" value is the text as the bot wrote it.
func createdWithMarker(txs []conduit.Transaction, botPHID, campaign string, key OpKey) bool {
	created := false
	for _, x := range txs {
		switch x.Type {
		case "create":
			if x.AuthorPHID != botPHID {
				return false
			}
			created = true
		case "description":
			if !created || x.AuthorPHID != botPHID {
				return false
			}
			var old, text string
			if json.Unmarshal(x.Old, &old) != nil || old != "" || json.Unmarshal(x.New, &text) != nil {
				return false
			}
			return hasMarker(text, campaign, key)
		}
	}
	return false
}

// phidNames names users as @username and projects as #name where
// Phabricator knows them, by PHID otherwise.
func (b *reader) phidNames(ctx context.Context, phids []string) (map[string]string, error) {
	out := map[string]string{}
	var users, projects []string
	for _, p := range phids {
		if p == "" || slices.Contains(users, p) || slices.Contains(projects, p) {
			continue
		}
		out[p] = p
		if strings.HasPrefix(p, "PHID-PROJ-") {
			projects = append(projects, p)
		} else {
			users = append(users, p)
		}
	}
	if len(users) > 0 {
		us, err := b.usersByPHID(ctx, users)
		if err != nil {
			return nil, fmt.Errorf("name who changed the subscribers: %w", err)
		}
		for _, u := range us {
			out[u.PHID] = "@" + u.Username
		}
	}
	if len(projects) > 0 {
		ps, err := b.projectsByPHID(ctx, projects, false)
		if err != nil {
			return nil, fmt.Errorf("name the subscribed projects: %w", err)
		}
		for _, p := range ps {
			out[p.PHID] = "#" + p.Name
		}
	}
	return out, nil
}

// usernames names users by @username where Phabricator knows them, by PHID
// otherwise.
func (b *reader) usernames(ctx context.Context, phids []string) ([]string, error) {
	if len(phids) == 0 {
		return nil, nil
	}
	users, err := b.usersByPHID(ctx, phids)
	if err != nil {
		return nil, fmt.Errorf("name who changed the policies: %w", err)
	}
	name := map[string]string{}
	for _, u := range users {
		name[u.PHID] = "@" + u.Username
	}
	out := make([]string, len(phids))
	for i, p := range phids {
		out[i] = cmp.Or(name[p], p)
	}
	return out, nil
}

// teamTag is the team project's hashtag, read from Phabricator (the
// record keeps the team's PHID and name, and a slug can change).
func (b *reader) teamTag(ctx context.Context, rec *state.Campaign) (string, error) {
	ps, err := b.conn.ProjectsByPHID(ctx, []string{rec.TeamPHID}, false)
	if err != nil {
		return "", fmt.Errorf("read the team project: %w", err)
	}
	if len(ps) != 1 || ps[0].Slug == "" {
		return "", fmt.Errorf("the team project %s is not visible to the bot", rec.TeamName)
	}
	return "#" + ps[0].Slug, nil
}

// scopePHIDs resolves the campaign's activity_scope projects.
func (b *reader) scopePHIDs(ctx context.Context, c *campaigns.Campaign) ([]string, error) {
	found, err := b.resolveProjects(ctx, c.Inactivity.Scope, false)
	if err != nil {
		return nil, fmt.Errorf("resolve activity_scope: %w", err)
	}
	var out, missing []string
	for _, name := range c.Inactivity.Scope {
		if p, ok := found[name]; ok {
			out = append(out, p.PHID)
		} else {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: activity_scope: unknown project(s) %s", ErrInput, strings.Join(missing, ", "))
	}
	return out, nil
}

// visibleProjectNames returns the names of projects the bot can see, for
// a did-you-mean, or nil if they cannot be listed: a suggestion is a
// courtesy and never turns one error into another.
func (b *reader) visibleProjectNames(ctx context.Context) []string {
	p := b.conn.Phabricator
	for {
		if l, ok := p.(projectLister); ok {
			names, err := l.ProjectNames(ctx, maxSuggestProjects)
			if err != nil {
				b.log.Debug().Err(err).Msg("listing projects for a did-you-mean")
			}
			return names
		}
		u, ok := p.(interface{ Unwrap() Phabricator })
		if !ok {
			return nil
		}
		p = u.Unwrap()
	}
}

// liveFailures asks, criterion by criterion, which of fs still fail each
// of their reasons now, keeps applied. The result maps reason to user to
// the record the answer carried. Each criterion is asked about its own
// users only, at its own cost: user.search pages for mfa and disabled,
// the activity source (its cache) for inactive, nothing for reconfirm and
// list.
func (b *reader) liveFailures(ctx context.Context, c *campaigns.Campaign, fs []state.Finding, extra map[string][]string) (map[string]map[string]conduit.User, error) {
	self, err := b.self(ctx)
	if err != nil {
		return nil, err
	}
	x := &critEnv{read: b, c: c, self: self, now: b.now().UTC()}
	if len(c.Inactivity.Scope) > 0 && slices.ContainsFunc(fs, func(f state.Finding) bool { return slices.Contains(f.Reasons, reasonInactive) }) {
		if x.scope, err = b.scopePHIDs(ctx, c); err != nil {
			return nil, err
		}
	}
	// Each reason's users, each once, in order: a set beside each list,
	// so that 10,000 findings cost 10,000 steps, not 50 million.
	users, seen := map[string][]string{}, map[string]map[string]bool{}
	add := func(r, u string) {
		if seen[r] == nil {
			seen[r] = map[string]bool{}
		}
		if !seen[r][u] {
			seen[r][u] = true
			users[r] = append(users[r], u)
		}
	}
	for _, f := range fs {
		for _, r := range f.Reasons {
			if !keptFor(f, r) {
				add(r, f.UserPHID)
			}
		}
	}
	for r, us := range extra {
		for _, u := range us {
			add(r, u)
		}
	}
	out := map[string]map[string]conduit.User{}
	for _, cr := range criteria {
		if len(users[cr.reason]) == 0 {
			out[cr.reason] = map[string]conduit.User{}
			continue
		}
		got, err := cr.failing(ctx, x, users[cr.reason])
		if err != nil {
			return nil, err
		}
		out[cr.reason] = got
	}
	return out, nil
}

// resolveProjects finds projects by name or slug (project.search), with
// their members if asked.
func (b *reader) resolveProjects(ctx context.Context, names []string, withMembers bool) (map[string]conduit.Project, error) {
	return b.conn.ResolveProjects(ctx, names, withMembers)
}

// projectsByPHID reads projects, with their members if asked. A project
// the bot cannot see is missing from the answer.
func (b *reader) projectsByPHID(ctx context.Context, phids []string, withMembers bool) ([]conduit.Project, error) {
	return b.conn.ProjectsByPHID(ctx, phids, withMembers)
}

// projectMembers reads one project's members; ok is false when the bot
// cannot see it.
func (b *reader) projectMembers(ctx context.Context, phid string) (members []string, ok bool, err error) {
	ps, err := b.conn.ProjectsByPHID(ctx, []string{phid}, true)
	if err != nil || len(ps) != 1 {
		return nil, false, err
	}
	return ps[0].MemberPHIDs, true, nil
}

// usersByPHID reads accounts by PHID: a list, in the order the server
// answers; an account the server does not return is missing.
func (b *reader) usersByPHID(ctx context.Context, phids []string) ([]conduit.User, error) {
	return b.conn.SearchUsers(ctx, conduit.UserQuery{PHIDs: phids})
}

// usersNamed reads accounts by username.
func (b *reader) usersNamed(ctx context.Context, usernames []string) ([]conduit.User, error) {
	return b.conn.SearchUsers(ctx, conduit.UserQuery{Usernames: usernames})
}

// tasksByPHID reads tasks (maniphest.search): fields, policies, and up to
// ten subscribers each (see subscribers). A task the bot may not see is
// silently missing (NOTES fact 23).
func (b *reader) tasksByPHID(ctx context.Context, phids []string) ([]conduit.Task, error) {
	return b.conn.SearchTasks(ctx, conduit.TaskQuery{PHIDs: phids})
}

// tasksFiledBy reads the tasks author filed since a time.
func (b *reader) tasksFiledBy(ctx context.Context, author string, since time.Time) ([]conduit.Task, error) {
	return b.conn.SearchTasks(ctx, conduit.TaskQuery{AuthorPHIDs: []string{author}, CreatedStart: since})
}

// subscribers is a task's complete subscriber list: the search
// attachment stops at 10 (NOTES fact 24), so a longer list is read on
// its own.
func (b *reader) subscribers(ctx context.Context, t conduit.Task) ([]string, error) {
	if t.SubscriberCount <= len(t.SubscriberPHIDs) {
		return t.SubscriberPHIDs, nil
	}
	return b.conn.TaskSubscribers(ctx, t.ID)
}

// history reads a task's transactions after id afterID (0: all of them),
// oldest first.
func (b *reader) history(ctx context.Context, taskPHID string, afterID int) ([]conduit.Transaction, error) {
	return b.conn.TaskTransactions(ctx, taskPHID, afterID)
}

// activityScope resolves the campaign's activity_scope projects, with
// their members (discovery says which of them the bot is in).
func (b *reader) activityScope(ctx context.Context, c *campaigns.Campaign) ([]conduit.Project, error) {
	found, err := b.resolveProjects(ctx, c.Inactivity.Scope, true)
	if err != nil {
		return nil, fmt.Errorf("resolve activity_scope: %w", err)
	}
	var out []conduit.Project
	for _, name := range c.Inactivity.Scope {
		p, ok := found[name]
		if !ok {
			return nil, fmt.Errorf("%w: activity_scope: unknown project %s: no project with that name or slug is visible to the bot", ErrInput, name)
		}
		out = append(out, p)
	}
	return out, nil
}

// lastActivity asks the activity source (feed.query, through its cache)
// when each of users last acted within the campaign's window, honouring
// its activity_scope (the projects' PHIDs, scope).
func (b *reader) lastActivity(ctx context.Context, c *campaigns.Campaign, scope, users []string) (map[string]time.Time, error) {
	src := b.activity
	if src == nil {
		return nil, errNoActivitySource
	}
	if len(users) == 0 {
		return map[string]time.Time{}, nil
	}
	window := c.Inactivity.Window
	if len(c.Inactivity.Scope) > 0 {
		scoped, ok := src.(scopedActivitySource)
		if !ok {
			return nil, fmt.Errorf("%w: inactive.activity_scope is set, but the activity source cannot limit activity to projects", ErrInput)
		}
		return scoped.LastActivityIn(ctx, users, window, scope)
	}
	return src.LastActivity(ctx, users, window)
}

// campaignRecord reads a launched campaign's record.
func (b *reader) campaignRecord(campaign string) (state.Campaign, error) {
	var rec state.Campaign
	err := b.store.View(campaign, func(tx *state.CampaignTx) error { rec = tx.Campaign(); return nil })
	if errors.Is(err, state.ErrNoCampaign) {
		return rec, fmt.Errorf("%w: %q has not been launched", ErrUnknownCampaign, campaign)
	}
	return rec, err
}

// opByKey reads one op; state.ErrNotFound if there is none.
func (b *reader) opByKey(campaign string, key OpKey) (state.Op, error) {
	var op state.Op
	err := b.store.View(campaign, func(tx *state.CampaignTx) error {
		var err error
		op, err = tx.Op(string(key))
		return err
	})
	return op, err
}
