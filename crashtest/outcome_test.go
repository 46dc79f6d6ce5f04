package crashtest

import (
	"cmp"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/auditbot/auditbot/bot"
	"github.com/auditbot/auditbot/state"
)

// outcome is what a whole run of the script left behind, in Phabricator
// and in the state file, in terms that do not depend on random PHIDs, so
// that a run with a crash can be compared with the run without.
type outcome struct {
	// Members are the audited groups' members at the end, by name.
	Members map[string][]string
	// Changes count the bot's effective membership changes ("remove U
	// from G", "add U to G"), replayed from the server's write log.
	Changes map[string]int
	// Tasks counts the bot's tasks by marker key.
	Tasks map[string]int
	// Comments counts the bot's comments by "T<id> <marker key>", with
	// PHIDs in keys (reply/PHID-XACT-...) blanked.
	Comments map[string]int
	// Statuses are the findings' statuses at the end, by username.
	Statuses map[string]state.Status
	// Removals are the removal batches: "R1 done: user from group, ...".
	Removals []string
	// Journal counts the journal's entries by kind, actor, task, user,
	// group and detail (PHIDs blanked, "(reconciled)" dropped).
	Journal map[string]int
}

// markerKey returns the op key of campaign's marker line in text.
func markerKey(campaign, text string) (string, bool) {
	key, found := "", false
	for line := range strings.Lines(text) {
		if k, ok := bot.MarkerKey(line, campaign); ok {
			key, found = k, true
		}
	}
	return key, found
}

var phidPattern = regexp.MustCompile(`PHID-[A-Z]{4}(-[A-Z]{4})?-[a-z2-7]+`)

// blankPHIDs replaces PHIDs, which depend on the order of random draws
// in the server, with a placeholder.
func blankPHIDs(s string) string { return phidPattern.ReplaceAllString(s, "PHID-*") }

// collect reads the outcome of a run and checks the invariants that hold
// for any run, crashed or not. It returns the outcome and every violation.
func (w *world) collect() (outcome, []string) {
	o := outcome{Members: map[string][]string{}, Changes: map[string]int{}, Tasks: map[string]int{},
		Comments: map[string]int{}, Statuses: map[string]state.Status{}, Journal: map[string]int{}}
	var bad []string
	violation := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	botPHID := w.users["auditbot"].PHID

	for _, g := range w.sc.groups {
		o.Members[g] = w.namesOf(w.srv.Members(w.groups[g].PHID))
	}

	// Replay the bot's project.edit calls on the seed memberships, so a
	// removal counts only when the user was a member at that moment.
	model := map[string][]string{}
	for _, g := range w.sc.groups {
		m := w.sc.seed[g]
		model[g] = w.tw.PHIDs(m...)
	}
	var removed []string // "user from group", in order
	for _, wr := range w.srv.Writes() {
		g := w.names[wr.ObjectPHID]
		if wr.Method != "project.edit" || !slices.Contains(w.sc.groups, g) {
			continue
		}
		// People's own changes (a member added) move the model but are
		// not the bot's changes.
		byBot := wr.ActorPHID == botPHID
		for _, tx := range wr.Transactions {
			for _, p := range toStrings(tx.Value) {
				switch tx.Type {
				case "members.remove":
					if i := slices.Index(model[g], p); i >= 0 {
						model[g] = slices.Delete(model[g], i, i+1)
						if !byBot {
							continue
						}
						o.Changes[fmt.Sprintf("remove %s from %s", w.names[p], g)]++
						removed = append(removed, fmt.Sprintf("%s from %s", w.names[p], g))
					}
				case "members.add":
					if !slices.Contains(model[g], p) {
						model[g] = append(model[g], p)
						if !byBot {
							continue
						}
						o.Changes[fmt.Sprintf("add %s to %s", w.names[p], g)]++
					}
				}
			}
		}
	}
	for _, g := range w.sc.groups {
		if got := w.namesOf(model[g]); !slices.Equal(got, o.Members[g]) {
			violation("the write log replays to %s = %v, the server says %v (someone else changed members?)", g, got, o.Members[g])
		}
	}
	for change, n := range o.Changes {
		if n > 1 && strings.HasPrefix(change, "remove ") {
			violation("%s: done %d times", change, n)
		}
	}

	// Tasks and comments: one per marker key.
	replies := map[string]int{} // reply key -> task id
	for _, tk := range w.srv.Tasks() {
		// The bot comments on its own tasks and on a task people filed:
		// the campaign's tracking task.
		if tk.AuthorPHID == botPHID {
			key, ok := markerKey(w.sc.name, tk.Description)
			if !ok {
				violation("T%d: the bot's task has no marker", tk.ID)
			}
			o.Tasks[key]++
			if o.Tasks[key] > 1 {
				violation("duplicate task %s (T%d)", key, tk.ID)
			}
		}
		exact := map[string]int{}
		for _, c := range w.srv.Comments(tk.ID) {
			if c.AuthorPHID != botPHID {
				continue
			}
			key, ok := markerKey(w.sc.name, c.Text)
			if !ok {
				violation("T%d: bot comment without a marker: %q", tk.ID, c.Text)
				continue
			}
			exact[key]++
			if exact[key] > 1 {
				violation("T%d: duplicate comment %s", tk.ID, key)
			}
			if strings.HasPrefix(key, "reply/") || strings.HasPrefix(key, "replies/") {
				// A second answer on the same task is a duplicate comment
				// already; this catches one on another task.
				if other, dup := replies[key]; dup && other != tk.ID {
					violation("reply %s answered on T%d and T%d", key, other, tk.ID)
				}
				replies[key] = tk.ID
			}
			o.Comments[fmt.Sprintf("T%d %s", tk.ID, blankPHIDs(key))]++
		}
	}

	// The state file: sound, nothing left pending, removals approved.
	st, err := state.Open(filepath.Join(w.dir, "state.db"), state.Options{ReadOnly: true})
	if err != nil {
		violation("open the state file: %v", err)
		return o, bad
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		violation("state file: %v", err)
	}
	snap, err := st.Snapshot(w.sc.name)
	if err != nil {
		violation("state snapshot: %v", err)
		return o, bad
	}
	for _, f := range snap.Findings {
		o.Statuses[f.Username] = f.Status
	}
	for _, op := range snap.Ops {
		if op.State != state.OpDone {
			violation("op %s left %s (attempts %d)", op.Key, op.State, op.Attempts)
		}
	}
	approved := map[string]bool{}
	for _, r := range snap.Removals {
		var items []string
		for _, it := range r.Items {
			items = append(items, fmt.Sprintf("%s from %s", it.Username, it.GroupName))
			if r.Status == state.RemovalApproved || r.Status == state.RemovalDone {
				approved[fmt.Sprintf("%s from %s", it.Username, it.GroupName)] = true
			}
		}
		sort.Strings(items)
		o.Removals = append(o.Removals, fmt.Sprintf("%s %s (%d approvals): %s", r.Label(), r.Status, len(r.Approvals), strings.Join(items, ", ")))
	}
	for _, rm := range removed {
		if !approved[rm] {
			violation("removed %s, which no approved removal batch holds", rm)
		}
	}
	// Nobody is removed without the batch having been announced on their
	// own task: that announcement is what they and the approvers saw.
	taskOfBatch := map[int]int{}
	for _, bt := range snap.Batches {
		taskOfBatch[bt.Index] = bt.TaskID
	}
	for _, r := range snap.Removals {
		for _, it := range r.Items {
			if !slices.Contains(removed, fmt.Sprintf("%s from %s", it.Username, it.GroupName)) {
				continue
			}
			task := taskOfBatch[it.Batch]
			key := fmt.Sprintf("T%d removal/%s/proposal/batch-%d", task, r.Label(), it.Batch)
			if o.Comments[key] == 0 {
				violation("removed %s from %s by %s, never announced on their task T%d", it.Username, it.GroupName, r.Label(), task)
			}
		}
	}
	journal, err := st.Journal(w.sc.name)
	if err != nil {
		violation("journal: %v", err)
	}
	for _, e := range journal {
		detail := strings.TrimSpace(strings.ReplaceAll(e.Detail, "(reconciled)", ""))
		o.Journal[blankPHIDs(strings.Join([]string{string(e.Kind), e.Actor, e.Task, e.User, e.Group, detail}, " | "))]++
	}
	return o, bad
}

// namesOf maps PHIDs to sorted names.
func (w *world) namesOf(phids []string) []string {
	out := []string{}
	for _, p := range phids {
		out = append(out, w.names[p])
	}
	sort.Strings(out)
	return out
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return []string{x}
	}
	return nil
}

// paths names the write paths the bot took in a run, one line each, for
// scenario.paths to match by prefix: "task KEY" and "comment KEY" (marker
// keys, PHIDs blanked), "journal KIND" and "journal KIND by ACTOR", "edit TX + TX" for each of the
// bot's edits of an existing task (a transaction's type, with the names
// or value it sets: "subscribers.add(#acl*phabricator-admins)",
// "view(public)", "status(resolved)"), and "answers N" for a combined
// answer holding N answers.
func (w *world) paths() []string {
	botPHID := w.users["auditbot"].PHID
	var out []string
	for _, tk := range w.srv.Tasks() {
		if key, ok := markerKey(w.sc.name, tk.Description); ok && tk.AuthorPHID == botPHID {
			out = append(out, "task "+blankPHIDs(key))
		}
		for _, c := range w.srv.Comments(tk.ID) {
			key, ok := markerKey(w.sc.name, c.Text)
			if c.AuthorPHID != botPHID || !ok {
				continue
			}
			out = append(out, "comment "+blankPHIDs(key))
			if strings.HasPrefix(key, "replies/") {
				out = append(out, fmt.Sprintf("answers %d", strings.Count(c.Text, "\n---\n")+1))
			}
		}
	}
	for _, wr := range w.srv.Writes() {
		if wr.ActorPHID != botPHID || wr.Method != "maniphest.edit" || wr.Created {
			continue
		}
		var txs []string
		for _, tx := range wr.Transactions {
			var vals []string
			switch tx.Type {
			case "comment":
				// The family of the comment's marker key (removal, replies).
				if key, ok := markerKey(w.sc.name, fmt.Sprint(tx.Value)); ok {
					vals = []string{strings.SplitN(key, "/", 2)[0]}
				}
			case "subscribers.add", "subscribers.remove", "owner":
				for _, p := range toStrings(tx.Value) {
					vals = append(vals, cmp.Or(w.nameOf(p), p))
				}
			default:
				vals = toStrings(tx.Value)
			}
			if vals != nil || tx.Type == "owner" {
				txs = append(txs, tx.Type+"("+strings.Join(vals, ", ")+")")
			} else {
				txs = append(txs, tx.Type)
			}
		}
		out = append(out, "edit "+strings.Join(txs, " + "))
	}
	journal, err := w.journal()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, e := range journal {
		out = append(out, "journal "+string(e.Kind), "journal "+string(e.Kind)+" by "+e.Actor)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// nameOf names a user @name and a project #name.
func (w *world) nameOf(phid string) string {
	n, ok := w.names[phid]
	switch {
	case !ok:
		return ""
	case strings.HasPrefix(phid, "PHID-PROJ-"):
		return "#" + n
	}
	return "@" + n
}

// journal reads the campaign's journal from the state file.
func (w *world) journal() ([]state.Entry, error) {
	st, err := state.Open(filepath.Join(w.dir, "state.db"), state.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Journal(w.sc.name)
}
