// Package templates holds the texts auditbot writes to Phabricator/Phorge:
// the title and description of each campaign task and every comment the bot
// posts on it, as text/template files written in Remarkup.
//
// The texts are embedded in the binary (one NAME.tmpl file per Name) and can
// be replaced one file at a time from a directory (Load). Every template is
// parsed with Option("missingkey=error"), and Set.Validate renders each one
// with its Sample data so a broken override is found before the bot writes
// anything.
//
// # Template functions
//
//	mention P     "@username" for a Person (or []Person, joined with ", "); this
//	              notifies the user. A username outside [A-Za-z0-9._-] is not
//	              trusted as a mention and is rendered like literal.
//	username P    the same people as inert text that notifies nobody
//	name P        a Person's RealName (or any string), made inert (see below)
//	literal S     any user-supplied string (a reason, a reply), made inert
//	date T        a time.Time as "2006-01-02" in UTC, or a string that is
//	              already such a date; any other string is rendered like literal
//	join L SEP    strings.Join for a []string of trusted names (groups)
//	plural N S P  S when N is 1, else P
//	fail MSG      stops rendering with an error (for impossible branches)
//
// # Why names are wrapped in backticks
//
// RealName, reasons and replies come from users and must not become Remarkup:
// no mention that notifies or subscribes someone, no link, embed, object
// reference (T1, D1), formatting, header, table cell, code block or bot
// command. Remarkup has no general escape character, and a %%% literal only
// works as a block at the start of a line (PhutilRemarkupLiteralBlockRule
// matches ^\s*%%%), so it cannot protect a name inside a table cell or a
// sentence. Instead literal and name render the text as inline monospace,
// `like this`:
//
//   - Phorge's monospace rule has priority 100 and stores its match as an
//     opaque token that later rules never see. Document links [[...]] and
//     [x](url) (150), hyperlinks (400), object references such as T1 or {F1}
//     (450), mentions (500) and the formatting rules all run later, so
//     nothing inside the backticks is interpreted, and Phorge finds no
//     mention there to notify or subscribe. HTML such as <script> is escaped
//     as usual.
//   - The only inline rules that run earlier are the \x01 token escape (0) and
//     ${{{...}}} string expansion (50): control characters are removed and
//     "${" gets a space inserted.
//   - The rule is \B`(.+?)` : the text must not contain a backtick (it would
//     end the span early), so backticks become apostrophes; "##" would let an
//     earlier ## span swallow the opening backtick, so a space is put between
//     two #. The opening backtick must follow a non-word character: Render
//     checks that (see below).
//   - Block rules run before inline ones and look at line starts and table
//     cells: newlines, U+2028/U+2029 and every other control character are
//     removed and white space is collapsed, so the text cannot start a line;
//     "|" would split a table cell and becomes "¦", and "[[" (which the table
//     rule reads as a link spanning cells) becomes "[ [".
//   - Bidirectional-override characters are removed so a name cannot reverse
//     the text around it, invalid UTF-8 is replaced, and the text is cut at
//     200 characters.
//
// In plain-text mail Phorge prints the backticks as written. TestNameInjection
// checks all of this with a model of the rules above (the same monospace
// regular expression, then every later construct) over hostile names.
//
// mention and the backtick span only work after a space or punctuation
// (Remarkup's mention rule needs (?<!\w|@) before the @, monospace needs \B).
// The functions mark their output and Render fails if a template glues it to a
// preceding letter, digit, "_", "@" or "`", so such a mistake in an override
// is caught by Validate instead of silently exposing a name.
//
// Values from the bot's own configuration (group names, the approvers'
// project hashtag, the help URL, the team name) are trusted and printed as
// written, like the templates themselves.
//
// Templates carry no bot marker: the bot appends its own after rendering.
package templates

import (
	"embed"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"text/template"

	"github.com/auditbot/auditbot/internal/safefile"
)

// MaxTemplateSize bounds an override template file; the built-in ones are
// a few KiB.
const MaxTemplateSize = 1 << 20

// Name identifies one template; its file is Name + ".tmpl".
type Name string

// The templates, one per file.
const (
	TaskTitle          Name = "task-title"          // TaskData; plain text, one line
	TaskDescription    Name = "task-description"    // TaskData
	Reminder           Name = "reminder"            // ReminderData
	RemovalProposal    Name = "removal-proposal"    // RemovalProposalData
	RemovalNotice      Name = "removal-notice"      // RemovalNoticeData
	ComplianceThanks   Name = "compliance-thanks"   // ReplyData
	ClaimRejected      Name = "claim-rejected"      // ReplyData
	VoluntaryAck       Name = "voluntary-ack"       // ReplyData
	ExemptionRequested Name = "exemption-requested" // ReplyData
	ExemptionDecision  Name = "exemption-decision"  // ReplyData with Decision and Approver
	RestoreRequested   Name = "restore-requested"   // ReplyData
	Restored           Name = "restored"            // ReplyData with Approver
	DeadlineExtended   Name = "deadline-extended"   // ExtensionData
	NeedsHuman         Name = "needs-human"         // ReplyData with Reason
	// ApprovalRecorded answers an approver's !approve or !deny on a removal
	// proposal: ReplyData with Approver, and Decision "rejected" (with the
	// approver's Reason) or the bot's own status line for an approval.
	ApprovalRecorded Name = "approval-recorded"
	CommandRefused   Name = "command-refused" // ReplyData: Person gave a command the bot refused, Reason says why
	// RemovalHeld says an approved removal batch was not carried out
	// because it is over the removal guard-rail: RemovalHeldData.
	RemovalHeld Name = "removal-held"
	// StandingTask is a recurring campaign's task for the team:
	// StandingTaskData. RunSummary is each run's comment on it:
	// RunSummaryData.
	StandingTask Name = "standing-task"
	RunSummary   Name = "run-summary"
	// ApprovalReminder reminds the approvers of an undecided removal
	// batch, or tells the team: ApprovalReminderData.
	ApprovalReminder Name = "approval-reminder"
	// CampaignClosed closes a campaign's tasks: CampaignClosedData.
	CampaignClosed Name = "campaign-closed"
	// TeamTaskTitle and TeamTaskDescription are the team's task, which
	// lists the users who cannot be told (disabled accounts): TaskData.
	TeamTaskTitle       Name = "team-task-title"
	TeamTaskDescription Name = "team-task-description"
	// Kept answers a reply or an approver's !keep that keeps a user's
	// access under a criterion a reply can meet (inactive, reconfirm,
	// list): ReplyData with Kept, Remaining and, for !keep, Approver.
	Kept Name = "kept"
)

var names = []Name{
	TaskTitle, TaskDescription, Reminder, RemovalProposal, RemovalNotice,
	ComplianceThanks, ClaimRejected, VoluntaryAck, ExemptionRequested,
	ExemptionDecision, RestoreRequested, Restored, DeadlineExtended,
	NeedsHuman, ApprovalRecorded, CommandRefused, RemovalHeld,
	StandingTask, RunSummary, ApprovalReminder, CampaignClosed,
	TeamTaskTitle, TeamTaskDescription, Kept,
}

// Names returns every template name, in a fixed order.
func Names() []Name { return append([]Name(nil), names...) }

func known(n Name) bool {
	for _, m := range names {
		if m == n {
			return true
		}
	}
	return false
}

func (n Name) file() string { return string(n) + ".tmpl" }

//go:embed *.tmpl
var embedded embed.FS

// Set is a loaded, parsed set with one template per Name. It is safe for
// concurrent use.
type Set struct {
	byName map[Name]*template.Template
}

// Load parses the embedded templates, then replaces each one for which
// overrideDir ("" for none) holds a file of the same name (NAME.tmpl).
// Files in overrideDir not ending in .tmpl, dot files and directories are
// ignored; a NAME.tmpl with an unknown NAME is an error. Every problem is
// reported, each naming its file (and line, for parse errors).
func Load(overrideDir string) (*Set, error) {
	s := &Set{byName: make(map[Name]*template.Template, len(names))}
	for _, n := range names {
		src, err := embedded.ReadFile(n.file())
		if err != nil {
			return nil, fmt.Errorf("templates: read built-in %s: %w", n.file(), err)
		}
		t, err := parse(n.file(), src)
		if err != nil {
			return nil, fmt.Errorf("templates: built-in %w", err)
		}
		s.byName[n] = t
	}
	if overrideDir == "" {
		return s, nil
	}

	entries, err := safefile.ReadDir(overrideDir)
	if err != nil {
		return nil, fmt.Errorf("templates: read override directory: %w", err)
	}
	var errs []error
	for _, e := range entries {
		file := e.Name()
		if e.IsDir() || strings.HasPrefix(file, ".") || filepath.Ext(file) != ".tmpl" {
			continue
		}
		path := filepath.Join(overrideDir, file)
		n := Name(strings.TrimSuffix(file, ".tmpl"))
		if !known(n) {
			errs = append(errs, fmt.Errorf("templates: %s: unknown template %q (known: %s)", path, n, nameList()))
			continue
		}
		src, err := safefile.Read(path, MaxTemplateSize)
		if err != nil {
			errs = append(errs, fmt.Errorf("templates: read override: %w", err))
			continue
		}
		t, err := parse(path, src)
		if err != nil {
			errs = append(errs, fmt.Errorf("templates: override %w", err))
			continue
		}
		s.byName[n] = t
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// parse names the template after its file so that text/template's errors,
// which are not wrapped again with the file, read "template: PATH:LINE: ...".
func parse(file string, src []byte) (*template.Template, error) {
	t, err := template.New(file).Funcs(funcs).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return t, nil
}

func nameList() string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

// Render executes the template name with data and returns the text with
// leading and trailing white space removed. The error names the template and
// what failed: a missing field or key, a function given the wrong type, a
// mention or name glued to the word before it, or a title that is not one line.
func (s *Set) Render(name Name, data any) (string, error) {
	t, ok := s.byName[name]
	if !ok {
		return "", fmt.Errorf("templates: render %q: unknown template (known: %s)", name, nameList())
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("templates: render %s: %w", name, err)
	}
	out, err := unmark(b.String())
	if err != nil {
		return "", fmt.Errorf("templates: render %s (%s): %w", name, t.Name(), err)
	}
	out = strings.TrimSpace(out)
	if (name == TaskTitle || name == TeamTaskTitle) && strings.ContainsAny(out, "\r\n") {
		return "", fmt.Errorf("templates: render %s (%s): a task title must be one line, got %q", name, t.Name(), out)
	}
	return out, nil
}

// Validate renders every template with its Sample data and reports every
// template that fails or renders to nothing. The bot calls it before it
// writes anything, so a broken override stops a plan or launch up front.
func (s *Set) Validate() error {
	var errs []error
	for _, n := range names {
		out, err := s.Render(n, Sample(n))
		if err != nil {
			errs = append(errs, fmt.Errorf("templates: validate: %w", err))
			continue
		}
		if out == "" {
			errs = append(errs, fmt.Errorf("templates: validate %s (%s): renders empty text", n, s.byName[n].Name()))
			continue
		}
		// An override that prints what the audited users wrote (their
		// real names, their reasons) without literal or name would post
		// their mentions and embeds as live Remarkup on a restricted
		// task. Render once more with that text replaced by a canary and
		// refuse any output where the canary stands outside a monospace
		// span.
		out, err = s.Render(n, hostileSample(Sample(n)))
		if err != nil {
			errs = append(errs, fmt.Errorf("templates: validate: %w", err))
			continue
		}
		if liveCanary(out) {
			errs = append(errs, fmt.Errorf("templates: validate %s (%s): prints user text (a real name or a reason) as live Remarkup; pass it through literal or name", n, s.byName[n].Name()))
		}
	}
	return errors.Join(errs...)
}

// canary stands in for user text when Validate renders hostile samples:
// a mention and an embed, which Remarkup would act on outside a
// monospace span.
const canary = "@zzcanary {F9}"

// userTextFields are the data fields whose text the audited users (or
// anyone with a Phabricator account) choose: their real name, the reason
// they give.
var userTextFields = map[string]bool{"RealName": true, "Reason": true}

// hostileSample returns a copy of data with every user-text field, at any
// depth, set to the canary.
func hostileSample(data any) any {
	v := reflect.New(reflect.TypeOf(data)).Elem()
	v.Set(reflect.ValueOf(data))
	setCanary(v)
	return v.Interface()
}

func setCanary(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			// Copy what is pointed to, so the shared sample is untouched.
			e := v.Elem()
			c := reflect.New(e.Type()).Elem()
			c.Set(e)
			setCanary(c)
			if v.Kind() == reflect.Pointer {
				p := reflect.New(e.Type())
				p.Elem().Set(c)
				v.Set(p)
			} else if v.CanSet() {
				v.Set(c)
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			if f.Kind() == reflect.String && userTextFields[t.Field(i).Name] {
				f.SetString(canary)
				continue
			}
			setCanary(f)
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			setCanary(c.Index(i))
		}
		if v.CanSet() {
			v.Set(c)
		}
	}
}

// liveCanary reports whether the canary stands outside a monospace span
// (an odd number of backticks before it on its line means inside one).
func liveCanary(out string) bool {
	for line := range strings.Lines(out) {
		rest := line
		for {
			i := strings.Index(rest, "@zzcanary")
			if i < 0 {
				break
			}
			if strings.Count(line[:len(line)-len(rest)+i], "`")%2 == 0 {
				return true
			}
			rest = rest[i+1:]
		}
	}
	return false
}
