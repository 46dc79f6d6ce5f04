package templates

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLiteral(t *testing.T) {
	long := strings.Repeat("x", 250)
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Ada Lovelace", "`Ada Lovelace`"},
		{"unicode kept", "José Núñez 李小龍", "`José Núñez 李小龍`"},
		{"empty", "", ""},
		{"only white space", " \n\t ", ""},
		{"mention", "@admin", "`@admin`"},
		{"backtick closes nothing", "a`b ```c", "`a'b '''c`"},
		{"newline and header", "Eve\n= header =", "`Eve = header =`"},
		{"CR LF and separators", "a\r\nb\u2028c\u2029d\u0085e", "`a b c d e`"},
		{"table cell", "a | b", "`a ¦ b`"},
		{"link brackets", "[[[ x ]]", "`[ [ [ x ]]`"},
		{"hash runs", "C## ###", "`C# # # # #`"},
		{"eval", "${{{strings.platform.server.name}}}", "`$ {{{strings.platform.server.name}}}`"},
		{"control and token byte", "a\x00b\x01c\x1bd\x7f", "`abcd`"},
		{"bidi override", "abc\u202Edef\u2066g", "`abcdefg`"},
		{"mark and noncharacters", "a\uFDD0b\uFFFEc\U0001FFFFd", "`abcd`"},
		{"invalid UTF-8", "a\xffb", "`a\uFFFDb`"},
		{"zero width joiner kept", "👩\u200D💻", "`👩\u200D💻`"},
		{"trimmed and collapsed", "  Ada \t\n  Lovelace  ", "`Ada Lovelace`"},
		{"cut", long, "`" + strings.Repeat("x", maxLiteral-1) + "…`"},
		{"exact length not cut", long[:maxLiteral], "`" + long[:maxLiteral] + "`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, literal(tt.in)); diff != "" {
				t.Errorf("literal(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestFuncs(t *testing.T) {
	ada := Person{Username: "ada", RealName: "Ada <Lovelace>"}
	m := string(mark)
	tests := []struct {
		name string
		call func() (string, error)
		want string
	}{
		{"mention", func() (string, error) { return mention(ada) }, m + "@ada"},
		{"mention pointer", func() (string, error) { return mention(&ada) }, m + "@ada"},
		{"mention list", func() (string, error) {
			return mention([]Person{ada, {Username: "j.doe-2_x"}})
		}, m + "@ada, @j.doe-2_x"},
		{"mention empty list", func() (string, error) { return mention([]Person(nil)) }, ""},
		{"mention trailing dot", func() (string, error) { return mention(Person{Username: "ada."}) }, m + "`@ada.`"},
		{"mention space", func() (string, error) { return mention(Person{Username: "ada admin"}) }, m + "`@ada admin`"},
		{"mention hostile", func() (string, error) {
			return mention(Person{Username: "x [[ https://evil.example ]]"})
		}, m + "`@x [ [ https://evil.example ]]`"},
		{"mention empty", func() (string, error) { return mention(Person{}) }, m + "`@`"},
		{"username", func() (string, error) { return username([]Person{ada, {Username: "bob"}}) }, m + "`@ada`, `@bob`"},
		{"name person", func() (string, error) { return name(ada) }, m + "`Ada <Lovelace>`"},
		{"name string", func() (string, error) { return name("T1") }, m + "`T1`"},
		{"name empty", func() (string, error) { return name(Person{Username: "x"}) }, ""},
		{"date time", func() (string, error) {
			return date(time.Date(2027, 2, 28, 23, 30, 0, 0, time.FixedZone("x", -3600)))
		}, "2027-03-01"},
		{"date string", func() (string, error) { return date("2027-02-28") }, "2027-02-28"},
		{"date invalid string", func() (string, error) { return date("2027-02-30") }, m + "`2027-02-30`"},
		{"date user text", func() (string, error) { return date("next @admin") }, m + "`next @admin`"},
		{"plural one", func() (string, error) { return plural(1, "day", "days"), nil }, "day"},
		{"plural zero", func() (string, error) { return plural(0, "day", "days"), nil }, "days"},
		{"join", func() (string, error) { return join([]string{"WMF-NDA", "acl*security"}, ", "), nil }, "WMF-NDA, acl*security"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	errs := []struct {
		name string
		call func() (string, error)
		want string
	}{
		{"mention wrong type", func() (string, error) { return mention("ada") }, "mention: want Person or []Person, got string"},
		{"mention nil", func() (string, error) { return mention((*Person)(nil)) }, "mention: nil *Person"},
		{"name wrong type", func() (string, error) { return name(3) }, "name: want Person or string, got int"},
		{"date zero", func() (string, error) { return date(time.Time{}) }, "date: zero time"},
		{"date empty", func() (string, error) { return date("") }, "date: empty string"},
		{"date wrong type", func() (string, error) { return date(3) }, "date: want time.Time or string, got int"},
		{"fail", func() (string, error) { return fail("bad decision", `"maybe"`) }, `bad decision "maybe"`},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.call()
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// The rest of this file models how Phorge's Remarkup engine reads the texts,
// closely enough to show that user text adds no markup.
//
// Phorge splits a text into blocks by looking at line starts, splits table
// rows into cells at "|", then applies the inline rules in priority order.
// Monospace (priority 100) is the first rule that matters: it stores each
// span as an opaque token, so later rules (links, objects, mentions,
// formatting) never see its content. The model masks the spans with the same
// regular expression and lists every construct left in the rest.
var (
	monospaceRE = regexp.MustCompile("##([\\s\\S]+?)##|\\B`(.+?)`")
	// Inline constructs that would be live outside monospace.
	inlineREs = map[string]*regexp.Regexp{
		"mention":   regexp.MustCompile(`(?:^|[^\w@])(@[a-zA-Z0-9._-]*[a-zA-Z0-9_-])`),
		"hashtag":   regexp.MustCompile(`(?:^|[\s,(])(#[^\s}!,.;:?\x00]+)`),
		"doclink":   regexp.MustCompile(`\[\[`),
		"mdlink":    regexp.MustCompile(`\]\(`),
		"url":       regexp.MustCompile(`\w{3,32}://`),
		"embed":     regexp.MustCompile(`\{[A-Za-z]+\d+`),
		"object":    regexp.MustCompile(`(?:^|[^\w#@-])([A-Z]\d+)\b`),
		"bold":      regexp.MustCompile(`\*\*`),
		"italic":    regexp.MustCompile(`//`),
		"del":       regexp.MustCompile(`~~`),
		"underline": regexp.MustCompile(`__`),
		"highlight": regexp.MustCompile(`!!`),
		"literal":   regexp.MustCompile(`%%%`),
		"html":      regexp.MustCompile(`<`),
		"eval":      regexp.MustCompile(`\$\{\{\{`),
		"backtick":  regexp.MustCompile("`"),
		"control":   regexp.MustCompile("[\x01-\x08\x0b-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]"),
	}
	// Block constructs, read at the start of each line.
	blockREs = map[string]*regexp.Regexp{
		"header":  regexp.MustCompile(`^\s*=`),
		"list":    regexp.MustCompile(`^\s*[-*#]\s`),
		"table":   regexp.MustCompile(`^\s*\|`),
		"quote":   regexp.MustCompile(`^\s*>`),
		"code":    regexp.MustCompile("^(  |\\s*```)"),
		"note":    regexp.MustCompile(`^\s*(NOTE|WARNING|IMPORTANT):`),
		"literal": regexp.MustCompile(`^\s*%%%`),
		"rule":    regexp.MustCompile(`^\s*---`),
		"command": regexp.MustCompile(`^\s*!`),
	}
)

// constructs lists the live Remarkup constructs in text, in a stable order.
func constructs(text string) []string {
	var out []string
	for i, line := range strings.Split(text, "\n") {
		for kind, re := range blockREs {
			if re.MatchString(line) {
				out = append(out, "line "+strconv.Itoa(i)+": "+kind)
			}
		}
		if blockREs["table"].MatchString(line) {
			out = append(out, "line "+strconv.Itoa(i)+": cells "+strconv.Itoa(strings.Count(line, "|")))
		}
	}
	for _, m := range monospaceRE.FindAllStringSubmatch(text, -1) {
		// ${{{...}}} expansion runs before monospace, inside the span too.
		if strings.Contains(m[0], "${{{") {
			out = append(out, "eval inside monospace: "+m[0])
		}
	}
	rest := monospaceRE.ReplaceAllString(text, "\x00")
	for kind, re := range inlineREs {
		for _, m := range re.FindAllStringSubmatch(rest, -1) {
			out = append(out, kind+": "+m[len(m)-1]) // the construct, without context
		}
	}
	slices.Sort(out)
	return out
}

var hostile = []string{
	"@admin",
	"@admin.",
	"x@admin",
	"[[ https://evil.example | x ]]",
	"[x](https://evil.example)",
	"https://evil.example",
	"<https://evil.example>",
	"{https://evil.example}",
	"{F1}",
	"{T1} T1 D1 rP1",
	"**b** //i// ~~d~~ __u__ !!h!!",
	"%%%",
	"%%%x%%%",
	"Eve\n= header =",
	"Eve\r\n  code block",
	"x\n| a | b |",
	"x\n- list\n# item",
	"x\n> quote\nNOTE: hi",
	"x\n!approve",
	"!approve",
	"!deny all",
	"`code`",
	"```\nfence\n```",
	"a`@admin`b",
	"##mono## @admin",
	"x## @admin ##",
	"<script>alert(1)</script>",
	"a | b | @admin",
	"[[ a | @admin ]]",
	"${{{strings.platform.server.name}}}",
	"#acl_phabricator-admins",
	"\x01" + "1Z @admin",
	"\u202Enimda@",
	"evil\uFDD0x",
	"\u2028= header",
	strings.Repeat("@admin ", 50),
}

// TestNameInjection renders the real templates with hostile user text in
// every user-controlled field and checks, with the Remarkup model above, that
// the text has exactly the constructs it has with harmless values.
func TestNameInjection(t *testing.T) {
	s := mustLoad(t, "")

	// Each case puts the value into the fields of one template's sample that
	// users control.
	cases := []struct {
		tmpl Name
		set  func(v string) any
	}{
		{TaskDescription, func(v string) any {
			d := Sample(TaskDescription).(TaskData)
			d.Affected[0].RealName = v
			d.Affected[1].RealName = v
			return d
		}},
		{ExemptionRequested, func(v string) any {
			d := Sample(ExemptionRequested).(ReplyData)
			d.RealName, d.Reason, d.Until = v, v, v
			return d
		}},
		// The username also goes into the commands offered to approvers,
		// inside a code span it must not break out of.
		{ExemptionRequested, func(v string) any {
			d := Sample(ExemptionRequested).(ReplyData)
			d.Username = v
			return d
		}},
		{RestoreRequested, func(v string) any {
			d := Sample(RestoreRequested).(ReplyData)
			d.Username = v
			return d
		}},
		{ExemptionDecision, func(v string) any {
			d := Sample(ExemptionDecision).(ReplyData)
			d.Decision, d.Reason, d.Until = DecisionDenied, v, v
			return d
		}},
		{NeedsHuman, func(v string) any {
			d := Sample(NeedsHuman).(ReplyData)
			d.Reason = v
			return d
		}},
		{ApprovalRecorded, func(v string) any {
			d := Sample(ApprovalRecorded).(ReplyData)
			d.Decision, d.Reason = DecisionRejected, v
			return d
		}},
		{ApprovalRecorded, func(v string) any {
			d := Sample(ApprovalRecorded).(ReplyData)
			d.Decision = v
			return d
		}},
		{CommandRefused, func(v string) any {
			d := Sample(CommandRefused).(ReplyData)
			d.Reason = v
			return d
		}},
		{RemovalProposal, func(v string) any {
			d := Sample(RemovalProposal).(RemovalProposalData)
			d.BatchID = v
			return d
		}},
		{DeadlineExtended, func(v string) any {
			d := Sample(DeadlineExtended).(ExtensionData)
			d.OldCutoff, d.NewCutoff = v, v
			return d
		}},
	}
	for _, c := range cases {
		benign, err := s.Render(c.tmpl, c.set("Ada Lovelace"))
		if err != nil {
			t.Fatalf("%s with a benign value: %v", c.tmpl, err)
		}
		want := constructs(benign)
		for _, v := range hostile {
			t.Run(string(c.tmpl)+"/"+v, func(t *testing.T) {
				got, err := s.Render(c.tmpl, c.set(v))
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				if diff := cmp.Diff(want, constructs(got)); diff != "" {
					t.Errorf("hostile value changed the Remarkup constructs (-benign +hostile):\n%s\ntext:\n%s", diff, got)
				}
				if strings.Count(got, "\n") != strings.Count(benign, "\n") {
					t.Errorf("hostile value changed the number of lines:\n%s", got)
				}
			})
		}
	}
}

// TestMentionInjection checks usernames, which come from Phabricator but are
// still not trusted as mentions unless they look like one.
func TestMentionInjection(t *testing.T) {
	s := mustLoad(t, "")
	render := func(u string) string {
		d := Sample(Reminder).(ReminderData)
		d.Pending = []Person{{Username: u}}
		d.Unsubscribed = []Person{{Username: u}}
		out, err := s.Render(Reminder, d)
		if err != nil {
			t.Fatalf("Render(%q): %v", u, err)
		}
		return out
	}
	benign := constructs(render("ada"))
	// A hostile username adds no mention at all: the benign one had one.
	var want []string
	for _, c := range benign {
		if c != "mention: @ada" {
			want = append(want, c)
		}
	}
	for _, u := range []string{"ada admin", "@admin", "admin.", "x [[ y ]]", "a\n= h", "", "`x`", "T1 x"} {
		t.Run(u, func(t *testing.T) {
			if diff := cmp.Diff(want, constructs(render(u))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestConstructsModel makes sure the model sees what it must catch, so that
// TestNameInjection cannot pass by seeing nothing.
func TestConstructsModel(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"hi @admin", []string{"mention: @admin"}},
		{"hi `@admin`", nil},
		{"hi x`@admin`", []string{"backtick: `", "backtick: `", "mention: @admin"}},
		{"see T1 and {F2}", []string{"embed: {F2", "object: F2", "object: T1"}},
		{"a\n= h =", []string{"line 1: header"}},
		{"| a | b |", []string{"line 0: cells 3", "line 0: table"}},
		{"`${{{x}}}`", []string{"eval inside monospace: `${{{x}}}`"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, constructs(tt.text)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
