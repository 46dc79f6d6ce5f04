package campaigns

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// The example files at the repository root are documentation people copy;
// these tests keep them loadable, complete and as described.

func TestConfigExample(t *testing.T) {
	const path = "../config.example.yaml"
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig(%s):\n%v", path, err)
	}
	want := &Config{
		Conduit: ConduitConfig{
			URL:               "https://phabricator.example.org",
			TokenFile:         "/etc/auditbot/conduit-token",
			Timeout:           30 * time.Second,
			RequestsPerSecond: 5,
		},
		StateFile:    "/var/lib/auditbot/state.db",
		Log:          LogConfig{Level: "info", Format: "json"},
		Schedule:     ScheduleConfig{TickEvery: 15 * time.Minute, MaxAuthFailures: 3},
		Metrics:      MetricsConfig{Listen: "127.0.0.1:9090"},
		CampaignsDir: "/etc/auditbot/campaigns",
		Groups: map[string]Risk{
			"acl*sre-team":            RiskInternal,
			"WMF-NDA":                 RiskSecurity,
			"acl*security":            RiskSecurity,
			"acl*wikimedia-events":    RiskVandalism,
			"acl*community-relations": RiskNotRisky,
		},
		DefaultRisk:      RiskSecurity,
		MinNotice:        DefaultMinNotice,
		ApprovalReminder: 10 * day,
		RemovalLimit:     RemovalLimit{MaxShare: 0.25, MaxCount: 50},
		Source:           path,
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
	checkAllKeysDocumented(t, path, []string{
		"conduit", "conduit.url", "conduit.token_file", "conduit.timeout", "conduit.requests_per_second",
		"state_file", "templates_dir", "log", "log.level", "log.format", "schedule", "schedule.tick_every", "schedule.max_auth_failures", "metrics", "metrics.listen",
		"campaigns_dir", "groups", "default_risk", "min_notice", "approval_reminder", "removal_limit", "removal_limit.max_share", "removal_limit.max_count",
	})
}

func TestCampaignExamples(t *testing.T) {
	paths, err := filepath.Glob("../examples/campaigns/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no example campaigns found in ../examples/campaigns")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if _, err := LoadCampaign(path); err != nil {
				t.Fatalf("LoadCampaign(%s):\n%v", path, err)
			}
		})
	}
}

func TestCampaignExampleMFA(t *testing.T) {
	const path = "../examples/campaigns/mfa-2027q1.yaml"
	c, err := LoadCampaign(path)
	if err != nil {
		t.Fatalf("LoadCampaign(%s):\n%v", path, err)
	}
	want := &Campaign{
		Name:                "mfa-2027q1",
		Title:               "Multi-factor authentication is required for private groups",
		Criteria:            []Criterion{CriterionMFA, CriterionDisabled},
		Groups:              []string{"WMF-NDA", "acl*security", "acl*sre-team"},
		ExcludeUsers:        []string{"legacy-bot-account"},
		ExcludeBots:         true,
		ExcludeMailingLists: true,
		BatchSize:           20,
		Cutoff:              time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
		CutoffDate:          "2027-02-28",
		CutoffLine:          64,
		Reminders:           []time.Duration{30 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour},
		QuietReminders:      true,
		Team:                "Security-Team",
		Tags:                []string{"Security-Team"},
		ViewPolicy:          PolicyChoice{Kind: PolicySubscribers},
		EditPolicy:          PolicyChoice{Kind: PolicyAdmin},
		Approvers:           "acl*phabricator-admins",
		AutoApproveNotRisky: false,
		Action:              ActionRemove,
		HelpURL:             "https://www.mediawiki.org/wiki/Phabricator/Help/Two-factor_Authentication",
		RemovalLimit:        RemovalLimitOverride{MaxShare: ptr(0.25), MaxCount: ptr(100)},
		ApprovalReminder:    7 * day,
		TrackingTask:        123,
		Source:              path,
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
	checkAllKeysDocumented(t, path, []string{
		"name", "title", "criteria", "groups", "exclude", "exclude.users", "exclude.bots", "exclude.mailing_lists",
		"batch_size", "cutoff", "reminders", "quiet_reminders", "team", "tags", "view_policy", "edit_policy",
		"approvers", "auto_approve_not_risky", "action", "help_url", "allow_short_notice", "removal_limit", "removal_limit.max_share", "removal_limit.max_count",
		"approval_reminder", "tracking_task",
	})
}

func TestCampaignExampleRecurring(t *testing.T) {
	const path = "../examples/campaigns/mfa-weekly.yaml"
	c, err := LoadCampaign(path)
	if err != nil {
		t.Fatalf("LoadCampaign(%s):\n%v", path, err)
	}
	want := &Recurring{Every: 7 * day, Mode: RecurJoin, Line: 34}
	if diff := cmp.Diff(want, c.Recurring); diff != "" {
		t.Errorf("%s recurring mismatch (-want +got):\n%s", path, diff)
	}
	if c.Notice != 30*day || c.NoticeLine != 40 {
		t.Errorf("%s notice = %s at line %d, want 720h at line 40", path, c.Notice, c.NoticeLine)
	}
}

// checkAllKeysDocumented checks that the example file sets every key the
// loader knows (want), so that the example documents them all. Keys under
// "groups" in the config are group names and are not descended into.
func checkAllKeysDocumented(t *testing.T, path string, want []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind != yaml.MappingNode || prefix == "groups" {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := join(prefix, n.Content[i].Value)
			got = append(got, key)
			walk(n.Content[i+1], key)
		}
	}
	walk(doc.Content[0], "")
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s does not set exactly the known keys (-want +got):\n%s", path, diff)
	}
}
