package campaigns

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

func TestRemovalLimitConfig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want RemovalLimit
		errs []string
	}{
		{name: "default", want: RemovalLimit{MaxShare: 0.25}},
		{name: "both", in: "removal_limit: {max_share: 12.5%, max_count: 40}", want: RemovalLimit{MaxShare: 0.125, MaxCount: 40}},
		{name: "count only keeps the default share", in: "removal_limit: {max_count: 3}", want: RemovalLimit{MaxShare: 0.25, MaxCount: 3}},
		{name: "share off", in: "removal_limit: {max_share: 100%}", want: RemovalLimit{MaxShare: 1}},
		{name: "bare number", in: "removal_limit: {max_share: 25}", errs: []string{"config.yaml:3: removal_limit.max_share: want a percentage such as 25%, got the number 25"}},
		{name: "fraction", in: "removal_limit: {max_share: 0.25}", errs: []string{"config.yaml:3: removal_limit.max_share: want a percentage such as 25%, got the number 0.25"}},
		{name: "zero", in: "removal_limit: {max_share: 0%}", errs: []string{"config.yaml:3: removal_limit.max_share: 0% is out of range; want more than 0% and at most 100%"}},
		{name: "over 100", in: "removal_limit: {max_share: 150%}", errs: []string{"config.yaml:3: removal_limit.max_share: 150% is out of range; want more than 0% and at most 100%"}},
		{name: "negative count", in: "removal_limit: {max_count: -1}", errs: []string{"config.yaml:3: removal_limit.max_count: -1 is negative; want a number of members, or 0 for no count limit"}},
		{name: "unknown key", in: "removal_limit: {max_shares: 10%}", errs: []string{`config.yaml:3: removal_limit: unknown key "max_shares" (did you mean "max_share"?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig("config.yaml", lines("conduit: {url: https://phab.example.org}", "state_file: x.db", tt.in))
			if diff := cmp.Diff(tt.errs, errorLines(t, err)); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, cfg.RemovalLimit); diff != "" {
				t.Errorf("RemovalLimit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRemovalLimitCampaignOverride(t *testing.T) {
	cfg := RemovalLimit{MaxShare: 0.25, MaxCount: 10}
	tests := []struct {
		name string
		in   []string
		want RemovalLimit
	}{
		{name: "none keeps the config's", want: cfg},
		{name: "share", in: []string{"removal_limit: {max_share: 100%}"}, want: RemovalLimit{MaxShare: 1, MaxCount: 10}},
		{name: "count off", in: []string{"removal_limit:", "  max_count: 0"}, want: RemovalLimit{MaxShare: 0.25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCampaign("mfa.yaml", campaignWith(tt.in...))
			if err != nil {
				t.Fatalf("ParseCampaign: %v", err)
			}
			if diff := cmp.Diff(tt.want, c.RemovalLimit.Apply(cfg)); diff != "" {
				t.Errorf("limit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRemovalLimitAllows(t *testing.T) {
	tests := []struct {
		limit      RemovalLimit
		n, members int
		want       bool
	}{
		{RemovalLimit{MaxShare: 0.25}, 2, 8, true}, // exactly 25 %
		{RemovalLimit{MaxShare: 0.25}, 3, 8, false},
		{RemovalLimit{MaxShare: 0.25}, 0, 0, true},
		{RemovalLimit{MaxShare: 0.25}, 1, 0, false}, // nothing to compare with: hold
		{RemovalLimit{MaxShare: 1}, 8, 8, true},
		{RemovalLimit{MaxShare: 1, MaxCount: 5}, 6, 100, false},
		{RemovalLimit{MaxShare: 1, MaxCount: 5}, 5, 100, true},
	}
	for _, tt := range tests {
		if got := tt.limit.Allows(tt.n, tt.members); got != tt.want {
			t.Errorf("%+v.Allows(%d, %d) = %v, want %v", tt.limit, tt.n, tt.members, got, tt.want)
		}
	}
}
