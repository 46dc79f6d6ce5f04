package campaigns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCriterionKeys(t *testing.T) {
	head := func(criteria string, extra ...string) []byte {
		return lines(append([]string{
			"name: audit",
			"criteria: " + criteria,
			"groups: [acl*security]",
			"cutoff: 2027-02-28",
			"team: Security-Team",
			"approvers: acl*phabricator-admins",
		}, extra...)...)
	}
	tests := []struct {
		name       string
		data       []byte
		inactivity Inactivity
		errs       []string
	}{
		{name: "inactive default window", data: head("[inactive]"), inactivity: Inactivity{Window: 365 * day}},
		{name: "inactive window and scope", data: head("[mfa, inactive]", "inactive: {window: 180d, activity_scope: [Security, '#security']}"),
			errs: []string{`c.yaml:7: inactive.activity_scope: "#security" is the same project as "Security"`}},
		{name: "inactive scope", data: head("[inactive]", "inactive: {window: 180d, activity_scope: [Security]}"),
			inactivity: Inactivity{Window: 180 * day, Scope: []string{"Security"}}},
		{name: "inactive key without the criterion", data: head("[mfa]", "inactive: {window: 30d}"),
			errs: []string{"c.yaml:7: inactive: configures the inactive criterion, but criteria does not list inactive"}},
		{name: "bad window", data: head("[inactive]", "inactive: {window: 1y}"),
			errs: []string{`c.yaml:7: inactive.window: "1y" is not an offset (want a whole number and a unit d, h or m, such as 30d, 36h or 90m)`}},
		{name: "unknown inactive key", data: head("[inactive]", "inactive: {windw: 30d}"),
			errs: []string{`c.yaml:7: inactive: unknown key "windw" (did you mean "window"?)`}},
		{name: "list without file", data: head("[list]"),
			errs: []string{"c.yaml:2: criteria: list needs the file of usernames: list: {file: offboarding.txt}"}},
		{name: "list key without the criterion", data: head("[mfa]", "list: {file: x.txt}"),
			errs: []string{"c.yaml:7: list: names a list file, but criteria does not list list"}},
		{name: "disabled without team", data: lines("name: audit", "criteria: [disabled]", "groups: [acl*security]", "cutoff: 2027-02-28", "approvers: acl*phabricator-admins"),
			errs: []string{"c.yaml:2: criteria: disabled needs a team: disabled members are announced on a task for the campaign's team project, not to the disabled users"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCampaign("c.yaml", tt.data)
			if diff := cmp.Diff(tt.errs, errorLines(t, err)); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.inactivity, c.Inactivity); diff != "" {
				t.Errorf("Inactivity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadCampaignList(t *testing.T) {
	campaign := func(file string) string {
		return "name: offboarding\ncriteria: [list]\nlist: {file: " + file + "}\ngroups: [acl*security]\ncutoff: 2027-02-28\napprovers: acl*phabricator-admins\n"
	}
	tests := []struct {
		name  string
		list  string
		file  string // list.file; default lists/leavers.txt
		users []ListEntry
		errs  []string
	}{
		{name: "comments, blanks and @", list: "# leavers of 2027-01\n\n@alice\nbob   # left in December\n  carol.d\n",
			users: []ListEntry{{"alice", 3}, {"bob", 4}, {"carol.d", 5}}},
		{name: "malformed line", list: "alice\nbob smith\n",
			errs: []string{`DIR/lists/leavers.txt:2: is not a username (want one username a line; # starts a comment)`}},
		{name: "listed twice", list: "alice\nAlice\n",
			errs: []string{`DIR/lists/leavers.txt:2: repeats the username of line 1`}},
		// A token is a valid username: refused by shape, never quoted.
		{name: "token-shaped entries", list: "alice\napi-abcdefghijklmnopqrstuvwxyz12\n@CLI-ABCDEFGHIJKLMNOPQRSTUVWXYZ12\n",
			errs: []string{
				"DIR/lists/leavers.txt:2: holds what looks like a Conduit API token; is this the right file?",
				"DIR/lists/leavers.txt:3: holds what looks like a Conduit API token; is this the right file?",
			}},
		// Whatever surrounds it: a suffix that still makes a valid
		// username (once sent to Phabricator in user.search), a prefix,
		// a comment, another word on the line.
		{name: "a token inside an entry or a comment",
			list: "alice\napi-abcdefghijklmnopqrstuvwxyz12_old\nxclr-abcdefghijklmnopqrstuvwxyz12\nbob # api-abcdefghijklmnopqrstuvwxyz12\ncarol\n# token: cli-abcdefghijklmnopqrstuvwxyz12 (rotated)\n",
			errs: []string{
				"DIR/lists/leavers.txt:2: holds what looks like a Conduit API token; is this the right file?",
				"DIR/lists/leavers.txt:3: holds what looks like a Conduit API token; is this the right file?",
				"DIR/lists/leavers.txt:4: holds what looks like a Conduit API token; is this the right file?",
				"DIR/lists/leavers.txt:6: holds what looks like a Conduit API token; is this the right file?",
			}},
		{name: "prefixes alone are names", list: "api-team\ncli-ops\nclr-x1\n",
			users: []ListEntry{{"api-team", 1}, {"cli-ops", 2}, {"clr-x1", 3}}},
		{name: "outside the campaign's directory", file: "../outside.txt",
			errs: []string{"DIR/offboarding.yaml:3: list.file: ROOT/outside.txt is outside the campaign file's directory DIR (symbolic links followed); a list must be in that directory or below it"}},
		{name: "absolute path outside", file: "/etc/hostname",
			errs: []string{"DIR/offboarding.yaml:3: list.file: /etc/hostname is outside the campaign file's directory DIR (symbolic links followed); a list must be in that directory or below it"}},
		{name: "symbolic link leading outside", file: "lists/link.txt",
			errs: []string{"DIR/offboarding.yaml:3: list.file: DIR/lists/link.txt is outside the campaign file's directory DIR (symbolic links followed); a list must be in that directory or below it"}},
		{name: "the directory itself", file: ".",
			errs: []string{"DIR/offboarding.yaml:3: list.file: DIR is outside the campaign file's directory DIR (symbolic links followed); a list must be in that directory or below it"}},
		{name: "only comments", list: "# nobody\n",
			errs: []string{"DIR/offboarding.yaml:3: list.file: DIR/lists/leavers.txt names nobody"}},
		{name: "missing file", file: "nope.txt",
			errs: []string{"DIR/offboarding.yaml:3: list.file: cannot read the list: lstat DIR/nope.txt: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "campaigns")
			if err := os.MkdirAll(filepath.Join(dir, "lists"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "outside.txt"), []byte("alice\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(root, "outside.txt"), filepath.Join(dir, "lists", "link.txt")); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "lists", "leavers.txt"), []byte(tt.list), 0o644); err != nil {
				t.Fatal(err)
			}
			file := tt.file
			if file == "" {
				file = "lists/leavers.txt"
			}
			path := filepath.Join(dir, "offboarding.yaml")
			if err := os.WriteFile(path, []byte(campaign(file)), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := LoadCampaign(path)
			var got []string
			for _, l := range errorLines(t, err) {
				got = append(got, replaceAll(replaceAll(l, dir, "DIR"), root, "ROOT"))
			}
			if diff := cmp.Diff(tt.errs, got); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.users, c.List.Entries); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if c.List.File != filepath.Join(dir, "lists", "leavers.txt") {
				t.Errorf("File = %q", c.List.File)
			}
		})
	}
}

func replaceAll(s, old, new string) string { return strings.ReplaceAll(s, old, new) }

// TestExampleCampaigns loads every example campaign, so they stay valid.
func TestExampleCampaigns(t *testing.T) {
	paths, err := filepath.Glob("../examples/campaigns/*.yaml")
	if err != nil || len(paths) < 3 {
		t.Fatalf("examples: %v %v", paths, err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			if _, err := LoadCampaign(p); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCheckListFile: a list that is the token file, under its own name,
// a hard link or a symbolic link, is refused whatever it holds.
func TestCheckListFile(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	other := filepath.Join(dir, "leavers.txt")
	for path, data := range map[string]string{token: "not-a-token-shape\n", other: "alice\n"} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hard, soft := filepath.Join(dir, "hard.txt"), filepath.Join(dir, "soft.txt")
	if err := os.Link(token, hard); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(token, soft); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, list, tokenFile string
		refused               bool
	}{
		{"the token file", token, token, true},
		{"a hard link to it", hard, token, true},
		{"a symbolic link to it", soft, token, true},
		{"another file", other, token, false},
		{"no token file configured", token, "", false},
		{"token file missing", other, filepath.Join(dir, "nope"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := (&UserList{File: tt.list}).CheckListFile(tt.tokenFile)
			if (err != nil) != tt.refused {
				t.Fatalf("CheckListFile = %v, want refused %v", err, tt.refused)
			}
			if err != nil && strings.Contains(err.Error(), "not-a-token-shape") {
				t.Errorf("the error quotes the file: %v", err)
			}
		})
	}
}

func TestParsePolicyKeys(t *testing.T) {
	base := []string{"name: audit", "groups: [acl*security]", "cutoff: 2027-02-28", "approvers: acl*phabricator-admins"}
	tests := []struct {
		name   string
		extra  []string
		policy PolicyAudit
		errs   []string
	}{
		{name: "scope and spaces", extra: []string{"criteria: [policy]", "team: Security-Team", "policy: {scope: [Security], spaces: [PHID-SPCE-aaaaaaaaaaaaaaaaaaaa]}"},
			policy: PolicyAudit{Scope: []string{"Security"}, Spaces: []string{"PHID-SPCE-aaaaaaaaaaaaaaaaaaaa"}}},
		{name: "no policy key", extra: []string{"criteria: [policy, mfa]", "team: Security-Team"}},
		{name: "bad space", extra: []string{"criteria: [policy]", "team: Security-Team", "policy: {spaces: [S1]}"},
			errs: []string{`c.yaml:7: policy.spaces: "S1" is not a Space's PHID (want PHID-SPCE-…, as spaces.search shows it)`}},
		{name: "policy key without the criterion", extra: []string{"criteria: [mfa]", "team: Security-Team", "policy: {scope: [Security]}"},
			errs: []string{"c.yaml:7: policy: configures the policy criterion, but criteria does not list policy"}},
		{name: "policy without team", extra: []string{"criteria: [policy]"},
			errs: []string{"c.yaml:5: criteria: policy needs a team: policy findings are listed on a task for the campaign's team project"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCampaign("c.yaml", lines(append(append([]string{}, base...), tt.extra...)...))
			if diff := cmp.Diff(tt.errs, errorLines(t, err)); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.policy, c.Policy); diff != "" {
				t.Errorf("Policy (-want +got):\n%s", diff)
			}
		})
	}
}
