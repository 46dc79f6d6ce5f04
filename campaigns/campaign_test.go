package campaigns

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// validCampaign is the smallest valid campaign file: lines 1 to 5.
var validCampaign = []string{
	"name: test-campaign",
	"criteria: [mfa]",
	"groups: [WMF-NDA]",
	"cutoff: 2027-02-28",
	"approvers: acl*phabricator-admins",
}

// campaignWith returns validCampaign followed by extra, from line 6 on.
func campaignWith(extra ...string) []byte {
	return lines(append(append([]string{}, validCampaign...), extra...)...)
}

func TestParseCampaignDefaults(t *testing.T) {
	c, err := ParseCampaign("test.yaml", campaignWith())
	if err != nil {
		t.Fatalf("ParseCampaign: %v", err)
	}
	want := &Campaign{
		Name:                "test-campaign",
		Title:               "Security audit: test-campaign",
		Criteria:            []Criterion{CriterionMFA},
		Groups:              []string{"WMF-NDA"},
		ExcludeBots:         true,
		ExcludeMailingLists: true,
		BatchSize:           20,
		Cutoff:              time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
		CutoffDate:          "2027-02-28",
		CutoffLine:          4,
		Reminders:           []time.Duration{30 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour},
		QuietReminders:      true,
		ViewPolicy:          PolicyChoice{Kind: PolicySubscribers},
		EditPolicy:          PolicyChoice{Kind: PolicyAdmin},
		Approvers:           "acl*phabricator-admins",
		Action:              ActionRemove,
		HelpURL:             "/settings/panel/multifactor/",
		Source:              "test.yaml",
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("ParseCampaign mismatch (-want +got):\n%s", diff)
	}
}

// TestParseCampaignAction: action is remove by default, disable when it
// says so, and anything else is an error naming the key's line.
func TestParseCampaignAction(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Action
		err  string
	}{
		{"", ActionRemove, ""},
		{"action: remove", ActionRemove, ""},
		{"action: disable", ActionDisable, ""},
		{"action: disabel", "", `test.yaml:6: action: unknown action "disabel" (did you mean "disable"?); want remove (the default: remove the user from the audited groups) or disable (disable the account)`},
		{"action: delete", "", `test.yaml:6: action: unknown action "delete"; want remove`},
		{"action: [disable]", "", "test.yaml:6: action:"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			var extra []string
			if tc.line != "" {
				extra = append(extra, tc.line)
			}
			c, err := ParseCampaign("test.yaml", campaignWith(extra...))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Action != tc.want || c.Disables() != (tc.want == ActionDisable) {
				t.Errorf("Action = %q, want %q", c.Action, tc.want)
			}
		})
	}
}

func TestParseCampaignValues(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		check func(t *testing.T, c *Campaign)
	}{
		{
			name:  "reminders sorted descending",
			extra: []string{"reminders: [1d, 90m, 36h, 30d]"},
			check: func(t *testing.T, c *Campaign) {
				want := []time.Duration{30 * 24 * time.Hour, 36 * time.Hour, 24 * time.Hour, 90 * time.Minute}
				if diff := cmp.Diff(want, c.Reminders); diff != "" {
					t.Errorf("Reminders mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "explicit empty reminders",
			extra: []string{"reminders: []"},
			check: func(t *testing.T, c *Campaign) {
				if len(c.Reminders) != 0 {
					t.Errorf("Reminders = %v, want none", c.Reminders)
				}
			},
		},
		{
			name:  "project policy takes the team",
			extra: []string{"team: Security-Team", "view_policy: project", "edit_policy: PHID-PLCY-abcdefghij0123456789"},
			check: func(t *testing.T, c *Campaign) {
				want := []PolicyChoice{{Kind: PolicyProject, Value: "Security-Team"}, {Kind: PolicyLiteral, Value: "PHID-PLCY-abcdefghij0123456789"}}
				if diff := cmp.Diff(want, []PolicyChoice{c.ViewPolicy, c.EditPolicy}); diff != "" {
					t.Errorf("policies mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "exclusions off and users without @",
			extra: []string{"exclude: {users: ['@Legacy-Bot', '12345'], bots: false, mailing_lists: false}"},
			check: func(t *testing.T, c *Campaign) {
				if c.ExcludeBots || c.ExcludeMailingLists {
					t.Errorf("ExcludeBots, ExcludeMailingLists = %v, %v; want false, false", c.ExcludeBots, c.ExcludeMailingLists)
				}
				if diff := cmp.Diff([]string{"Legacy-Bot", "12345"}, c.ExcludeUsers); diff != "" {
					t.Errorf("ExcludeUsers mismatch (-want +got):\n%s", diff)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCampaign("test.yaml", campaignWith(tt.extra...))
			if err != nil {
				t.Fatalf("ParseCampaign: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseCampaignErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []string
	}{
		{
			name: "unknown key with suggestion",
			in:   campaignWith("batch_sise: 10", "cutof: 2027-01-01", "frobnicate: true"),
			want: []string{
				`mfa.yaml:6: unknown key "batch_sise" (did you mean "batch_size"?)`,
				`mfa.yaml:7: unknown key "cutof" (did you mean "cutoff"?)`,
				`mfa.yaml:8: unknown key "frobnicate"`,
			},
		},
		{
			name: "nested unknown key",
			in:   campaignWith("exclude:", "  bot: true", "  mailing-lists: false"),
			want: []string{
				`mfa.yaml:7: exclude: unknown key "bot" (did you mean "bots"?)`,
				`mfa.yaml:8: exclude: unknown key "mailing-lists" (did you mean "mailing_lists"?)`,
			},
		},
		{
			name: "wrong types",
			in: campaignWith(
				"batch_size: twenty",
				"quiet_reminders: yes",
				"team: [a, b]",
				"tags: Security-Team",
				"exclude: {users: [{name: x}], bots: 1}",
				"title: true",
			),
			want: []string{
				`mfa.yaml:6: batch_size: want a whole number, got "twenty"`,
				`mfa.yaml:7: quiet_reminders: want true or false, got "yes"`,
				`mfa.yaml:8: team: want a string, got a list`,
				`mfa.yaml:9: tags: want a list such as [a, b], got "Security-Team"`,
				`mfa.yaml:10: exclude.users: want a string, got a mapping`,
				`mfa.yaml:10: exclude.bots: want true or false, got the number 1`,
				`mfa.yaml:11: title: want a string, got the boolean true (quote it if you mean the text)`,
			},
		},
		{
			name: "bad date",
			in:   lines("name: test-campaign", "criteria: [mfa]", "groups: [WMF-NDA]", "cutoff: 2027-02-30", "approvers: x"),
			want: []string{`mfa.yaml:4: cutoff: "2027-02-30" is not a date (want YYYY-MM-DD or RFC 3339)`},
		},
		{
			name: "date without time zone",
			in:   lines("name: test-campaign", "criteria: [mfa]", "groups: [WMF-NDA]", "cutoff: 2027-02-28T12:00:00", "approvers: x"),
			want: []string{`mfa.yaml:4: cutoff: "2027-02-28T12:00:00" is not a date (want YYYY-MM-DD or RFC 3339)`},
		},
		{
			name: "batch_size 21",
			in:   campaignWith("batch_size: 21"),
			want: []string{`mfa.yaml:6: batch_size: 21 is more than 20, the most subscribers the bot puts on one task`},
		},
		{
			name: "batch_size 0",
			in:   campaignWith("batch_size: 0"),
			want: []string{`mfa.yaml:6: batch_size: 0 is less than 1`},
		},
		{
			name: "empty groups",
			in:   lines("name: test-campaign", "criteria: [mfa]", "groups: []", "cutoff: 2027-02-28", "approvers: x"),
			want: []string{`mfa.yaml:3: groups: is empty; list at least one group to audit`},
		},
		{
			name: "duplicate group",
			in: lines("name: test-campaign", "criteria: [mfa]",
				"groups:", "  - WMF-NDA", "  - acl*security", "  - acl_security", "  - '#WMF-nda'",
				"cutoff: 2027-02-28", "approvers: x"),
			want: []string{
				`mfa.yaml:6: groups: "acl_security" is the same group as "acl*security" (line 5)`,
				`mfa.yaml:7: groups: "#WMF-nda" is the same group as "WMF-NDA" (line 4)`,
			},
		},
		{
			name: "duplicate on one line",
			in:   lines("name: test-campaign", "criteria: [mfa]", "groups: [acl*security, ACL_Security]", "cutoff: 2027-02-28", "approvers: x"),
			want: []string{`mfa.yaml:3: groups: "ACL_Security" is the same group as "acl*security"`},
		},
		{
			name: "unknown and repeated criterion",
			in:   lines("name: test-campaign", "criteria: [mfa, 2fa, mfa]", "groups: [WMF-NDA]", "cutoff: 2027-02-28", "approvers: x"),
			want: []string{
				`mfa.yaml:2: criteria: unknown criterion "2fa" (want mfa, disabled, inactive, reconfirm, list or policy)`,
				`mfa.yaml:2: criteria: "mfa" is listed twice`,
			},
		},
		{
			name: "no criteria",
			in:   lines("name: test-campaign", "criteria: []", "groups: [WMF-NDA]", "cutoff: 2027-02-28", "approvers: x"),
			want: []string{`mfa.yaml:2: criteria: is empty; want at least one of mfa, disabled, inactive, reconfirm, list or policy`},
		},
		{
			name: "bad reminders",
			in:   campaignWith("reminders:", "  - 30d", "  - 2w", "  - 0h", "  - 720h", "  - -1d", "  - 30"),
			want: []string{
				`mfa.yaml:8: reminders: "2w" is not an offset (want a whole number and a unit d, h or m, such as 30d, 36h or 90m)`,
				`mfa.yaml:9: reminders: "0h" must be greater than zero`,
				`mfa.yaml:10: reminders: "720h" is the same offset as "30d"`,
				`mfa.yaml:11: reminders: "-1d" is not an offset (want a whole number and a unit d, h or m, such as 30d, 36h or 90m)`,
				`mfa.yaml:12: reminders: "30" is not an offset (want a whole number and a unit d, h or m, such as 30d, 36h or 90m)`,
			},
		},
		{
			name: "bad name",
			in:   lines("name: MFA_2027", "criteria: [mfa]", "groups: [WMF-NDA]", "cutoff: 2027-02-28", "approvers: x"),
			want: []string{`mfa.yaml:1: name: "MFA_2027" is not a valid campaign name (want 2 to 63 lower-case letters, digits and dashes, not starting with a dash)`},
		},
		{
			name: "name too short",
			in:   lines("name: m", "criteria: [mfa]", "groups: [WMF-NDA]", "cutoff: 2027-02-28", "approvers: x"),
			want: []string{`mfa.yaml:1: name: "m" is not a valid campaign name (want 2 to 63 lower-case letters, digits and dashes, not starting with a dash)`},
		},
		{
			name: "missing required keys",
			in:   lines("# a comment", "title: Something"),
			want: []string{
				`mfa.yaml:2: missing required key "name"`,
				`mfa.yaml:2: missing required key "criteria"`,
				`mfa.yaml:2: missing required key "groups"`,
				`mfa.yaml:2: missing required key "cutoff"`,
				`mfa.yaml:2: missing required key "approvers"`,
			},
		},
		{
			name: "empty required value",
			in:   lines("name: test-campaign", "criteria: [mfa]", "groups: [WMF-NDA]", "cutoff:", "approvers: x"),
			want: []string{`mfa.yaml:4: cutoff: is empty; a value is required`},
		},
		{
			name: "policies",
			in:   campaignWith("view_policy: project", "edit_policy: public"),
			want: []string{
				`mfa.yaml:6: view_policy: project means the members of the team's project, but team is not set`,
				`mfa.yaml:7: edit_policy: unknown policy "public" (want subscribers, admin, project, a project's PHID or the bot's own user PHID)`,
			},
		},
		{
			name: "duplicate excluded user and tags",
			in:   campaignWith("exclude: {users: [bob, '@Bob']}", "tags: [Security-Team, '#security-team']"),
			want: []string{
				`mfa.yaml:6: exclude.users: "@Bob" is listed twice`,
				`mfa.yaml:7: tags: "#security-team" is the same project as "Security-Team"`,
			},
		},
		{
			name: "bad help_url and multi-line title",
			in:   campaignWith("help_url: ftp://example.org/help", "title: |", "  two", "  lines"),
			want: []string{
				`mfa.yaml:6: help_url: want an http(s) URL or a path on Phabricator starting with /`,
				`mfa.yaml:7: title: must be a single line`,
			},
		},
		{
			name: "not a mapping",
			in:   lines("- name: test"),
			want: []string{`mfa.yaml:1: want a mapping of keys to values, got a list`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCampaign("mfa.yaml", tt.in)
			if err == nil {
				t.Fatalf("ParseCampaign succeeded with %+v, want errors", c)
			}
			if c != nil {
				t.Errorf("ParseCampaign returned a campaign along with an error")
			}
			if diff := cmp.Diff(tt.want, errorLines(t, err)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseOffset(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "30d", want: 30 * 24 * time.Hour},
		{in: "36h", want: 36 * time.Hour},
		{in: "90m", want: 90 * time.Minute},
		{in: "0d", want: 0},
		{in: " 1d ", want: 24 * time.Hour},
		{in: "1h30m", wantErr: true},
		{in: "1.5d", wantErr: true},
		{in: "-1d", wantErr: true},
		{in: "30", wantErr: true},
		{in: "30D", wantErr: true},
		{in: "1w", wantErr: true},
		{in: "", wantErr: true},
		{in: "99999999999999d", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOffset(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseOffset(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseCutoff(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "2027-02-28", want: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2026-12-31", want: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2028-02-29", want: time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2027-02-28T17:00:00-08:00", want: time.Date(2027, 3, 1, 1, 0, 0, 0, time.UTC)},
		{in: "2027-02-28T12:00:00Z", want: time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC)},
		{in: "2027-02-29", wantErr: true},
		{in: "28/02/2027", wantErr: true},
		{in: "2027-02-28 12:00:00", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCutoff(tt.in)
			if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
				t.Errorf("ParseCutoff(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCampaignHelpers(t *testing.T) {
	c := &Campaign{
		Criteria:     []Criterion{CriterionDisabled},
		ExcludeUsers: []string{"Legacy-Bot", "12345"},
		Team:         "Security-Team",
		Tags:         []string{"security-team", "Audits", "#audits"},
		HelpURL:      DefaultHelpURL,
	}
	t.Run("Has", func(t *testing.T) {
		if c.Has(CriterionMFA) || !c.Has(CriterionDisabled) {
			t.Errorf("Has(mfa), Has(disabled) = %v, %v; want false, true", c.Has(CriterionMFA), c.Has(CriterionDisabled))
		}
	})
	t.Run("Excluded", func(t *testing.T) {
		for user, want := range map[string]bool{"legacy-bot": true, "@LEGACY-BOT": true, "12345": true, "alice": false, "": false} {
			if got := c.Excluded(user); got != want {
				t.Errorf("Excluded(%q) = %v, want %v", user, got, want)
			}
		}
	})
	t.Run("HelpLink", func(t *testing.T) {
		if got, want := c.HelpLink("https://phab.example.org/"), "https://phab.example.org/settings/panel/multifactor/"; got != want {
			t.Errorf("HelpLink = %q, want %q", got, want)
		}
		abs := &Campaign{HelpURL: "https://wiki.example.org/MFA"}
		if got := abs.HelpLink("https://phab.example.org"); got != abs.HelpURL {
			t.Errorf("HelpLink = %q, want %q", got, abs.HelpURL)
		}
	})
}

func TestLoadCampaign(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("name matches file", func(t *testing.T) {
		path := write("test-campaign.yml", campaignWith())
		c, err := LoadCampaign(path)
		if err != nil {
			t.Fatalf("LoadCampaign: %v", err)
		}
		if c.Source != path || c.Name != "test-campaign" {
			t.Errorf("Source, Name = %q, %q; want %q, test-campaign", c.Source, c.Name, path)
		}
	})
	t.Run("name differs from file", func(t *testing.T) {
		path := write("copy.yaml", campaignWith())
		_, err := LoadCampaign(path)
		want := []string{path + `:1: name: "test-campaign" does not match the file name "copy.yaml"; a campaign named test-campaign must be in test-campaign.yaml`}
		if diff := cmp.Diff(want, errorLines(t, err)); diff != "" {
			t.Errorf("errors mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("errors name the path", func(t *testing.T) {
		path := write("bad.yaml", lines("name: bad", "cutof: x"))
		_, err := LoadCampaign(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+":1: ") {
			t.Errorf("LoadCampaign error = %v, want lines prefixed with %s", err, path)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadCampaign(filepath.Join(dir, "nope.yaml"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("LoadCampaign error = %v, want fs.ErrNotExist", err)
		}
	})
}

func TestFindCampaign(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"mfa-2027q1.yaml", "disabled-2026.yml", "both.yaml", "both.yml", "README.md"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		want    string
		wantErr string
	}{
		{name: "mfa-2027q1", dir: dir, want: filepath.Join(dir, "mfa-2027q1.yaml")},
		{name: "disabled-2026", dir: dir, want: filepath.Join(dir, "disabled-2026.yml")},
		{name: "mfa-2027q2", dir: dir,
			wantErr: `campaigns: no campaign "mfa-2027q2" in ` + dir + ` (looked for mfa-2027q2.yaml and mfa-2027q2.yml) (did you mean "mfa-2027q1"?); available: both, disabled-2026, mfa-2027q1`},
		{name: "both", dir: dir,
			wantErr: "campaigns: finding campaign: both " + filepath.Join(dir, "both.yaml") + " and " + filepath.Join(dir, "both.yml") + " exist; keep one"},
		{name: "sub", dir: dir, wantErr: "campaigns: finding campaign: " + filepath.Join(dir, "sub.yaml") + " is a directory, not a regular file (a pipe or a device could block auditbot for ever)"},
		{name: "../etc/passwd", dir: dir,
			wantErr: `campaigns: finding campaign: "../etc/passwd" is not a valid campaign name (want 2 to 63 lower-case letters, digits and dashes, not starting with a dash)`},
		{name: "mfa", dir: filepath.Join(dir, "missing"),
			wantErr: "campaigns: listing campaigns: stat " + filepath.Join(dir, "missing") + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindCampaign(tt.dir, tt.name)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("FindCampaign error = %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("FindCampaign = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	t.Run("empty directory", func(t *testing.T) {
		empty := t.TempDir()
		_, err := FindCampaign(empty, "mfa")
		if err == nil || !strings.HasSuffix(err.Error(), "; the directory holds no campaign files") {
			t.Errorf("FindCampaign error = %v, want it to say the directory is empty", err)
		}
	})
}

func TestGroupKey(t *testing.T) {
	same := [][]string{
		{"acl*security", "acl_security", "#acl_security", "ACL*Security", " #ACL_SECURITY "},
		{"WMF-NDA", "wmf-nda", "#wmf-nda"},
		{"Some Project", "some_project"},
	}
	for _, names := range same {
		t.Run(names[0], func(t *testing.T) {
			for _, n := range names[1:] {
				if GroupKey(n) != GroupKey(names[0]) {
					t.Errorf("GroupKey(%q) = %q, want %q like %q", n, GroupKey(n), GroupKey(names[0]), names[0])
				}
			}
		})
	}
	if GroupKey("acl*security") == GroupKey("acl*security-team") {
		t.Error("different groups share a key")
	}
}
