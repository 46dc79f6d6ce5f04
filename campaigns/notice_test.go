package campaigns

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCheckNotice(t *testing.T) {
	// validCampaign's cutoff, 2027-02-28, ends at 2027-03-01T00:00Z.
	cutoff := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		extra     []string
		launchAt  time.Time
		minNotice time.Duration
		force     bool
		want      string // "" for no error
	}{
		{name: "ample notice", launchAt: cutoff.AddDate(0, -2, 0), minNotice: DefaultMinNotice},
		{name: "exactly the minimum", launchAt: cutoff.Add(-DefaultMinNotice), minNotice: DefaultMinNotice},
		{name: "a minute short", launchAt: cutoff.Add(-DefaultMinNotice + time.Minute), minNotice: DefaultMinNotice,
			want: "test.yaml:4: cutoff: 2027-02-28 is only 13 days after launch, less than min_notice (14 days): affected users get no time to act, " +
				"and removal would be proposed at once; the earliest cutoff is 2027-03-01. Move the cutoff, or launch anyway with " +
				"launch --allow-short-notice (or allow_short_notice: true in the campaign file)"},
		{name: "in the past", launchAt: time.Date(2027, 6, 1, 9, 0, 0, 0, time.UTC), minNotice: DefaultMinNotice,
			want: "test.yaml:4: cutoff: 2027-02-28 is in the past: affected users get no time to act, and removal would be proposed at once; " +
				"the earliest cutoff is 2027-06-15. Move the cutoff, or launch anyway with launch --allow-short-notice (or allow_short_notice: true in the campaign file)"},
		{name: "hours", launchAt: cutoff.Add(-30 * time.Hour), minNotice: 2 * day,
			want: "test.yaml:4: cutoff: 2027-02-28 is only 30 hours after launch, less than min_notice (2 days)"},
		{name: "configured shorter notice", launchAt: cutoff.Add(-3 * day), minNotice: 2 * day},
		{name: "forced on the command line", launchAt: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), minNotice: DefaultMinNotice, force: true},
		{name: "allowed by the campaign file", extra: []string{"allow_short_notice: true"},
			launchAt: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), minNotice: DefaultMinNotice},
		{name: "allow_short_notice false", extra: []string{"allow_short_notice: false"},
			launchAt: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), minNotice: DefaultMinNotice, want: "test.yaml:4: cutoff: 2027-02-28 is in the past"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCampaign("test.yaml", campaignWith(tt.extra...))
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckNotice(tt.launchAt, tt.minNotice, tt.force)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckNotice: %v, want nil", err)
				}
				return
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("CheckNotice: %v, want a *LineError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("CheckNotice:\n got %s\nwant %s...", err, tt.want)
			}
		})
	}
}

func TestParseConfigMinNotice(t *testing.T) {
	base := "conduit: {url: https://phab.example.org}\n"
	tests := []struct {
		name, in string
		want     time.Duration
		wantErr  string
	}{
		{name: "default", in: base, want: DefaultMinNotice},
		{name: "days", in: base + "min_notice: 30d\n", want: 30 * day},
		{name: "zero", in: base + "min_notice: 0d\n", want: 0},
		{name: "no unit", in: base + "min_notice: 14\n", wantErr: `config.yaml:2: min_notice: "14" is not an offset`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig("config.yaml", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("ParseConfig: %v, want %s...", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg.MinNotice); diff != "" {
				t.Errorf("MinNotice (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFileSizeLimit(t *testing.T) {
	dir := t.TempDir()
	// A valid file padded with a comment past the limit.
	big := append(campaignWith(), []byte("# "+strings.Repeat("x", MaxFileSize)+"\n")...)
	campaign := filepath.Join(dir, "test-campaign.yaml")
	config := filepath.Join(dir, "config.yaml")
	for path, data := range map[string][]byte{
		campaign: big,
		config:   append([]byte("conduit: {url: https://phab.example.org}\n# "), big...),
	} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, cerr := LoadCampaign(campaign)
	_, gerr := LoadConfig(config)
	_, perr := ParseCampaign("inline.yaml", big)
	for name, tt := range map[string]struct {
		err  error
		want string
	}{
		"LoadCampaign":  {cerr, "campaigns: reading campaign: " + campaign + ": is larger than 1 MiB, the limit for config, campaign and list files; is this the right file?"},
		"LoadConfig":    {gerr, "campaigns: reading config: " + config + ": is larger than 1 MiB, the limit for config, campaign and list files; is this the right file?"},
		"ParseCampaign": {perr, "inline.yaml: is larger than 1 MiB, the limit for config, campaign and list files; is this the right file?"},
	} {
		t.Run(name, func(t *testing.T) {
			var le *LineError
			if !errors.As(tt.err, &le) {
				t.Fatalf("error %v, want a *LineError", tt.err)
			}
			if tt.err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", tt.err, tt.want)
			}
		})
	}
	t.Run("just under the limit is read", func(t *testing.T) {
		data := campaignWith()
		data = append(data, []byte("# "+strings.Repeat("x", MaxFileSize-len(data)-3)+"\n")...)
		if len(data) != MaxFileSize {
			t.Fatalf("test data has %d bytes", len(data))
		}
		path := filepath.Join(t.TempDir(), "test-campaign.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCampaign(path); err != nil {
			t.Errorf("LoadCampaign of a %d-byte file: %v", len(data), err)
		}
	})
}
