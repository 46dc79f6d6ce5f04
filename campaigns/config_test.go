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

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig("/etc/auditbot/config.yaml", lines(
		"conduit:",
		"  url: https://phab.example.org/",
	))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	want := &Config{
		Conduit: ConduitConfig{
			URL:               "https://phab.example.org",
			Timeout:           30 * time.Second,
			RequestsPerSecond: 10,
		},
		StateFile:        "/etc/auditbot/auditbot.db",
		Log:              LogConfig{Level: "info", Format: "console"},
		Schedule:         ScheduleConfig{TickEvery: 15 * time.Minute, MaxAuthFailures: DefaultMaxAuthFailures},
		CampaignsDir:     "/etc/auditbot/campaigns",
		Groups:           map[string]Risk{},
		DefaultRisk:      RiskSecurity,
		MinNotice:        DefaultMinNotice,
		ApprovalReminder: DefaultApprovalReminder,
		RemovalLimit:     RemovalLimit{MaxShare: DefaultMaxRemovalShare},
		Source:           "/etc/auditbot/config.yaml",
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("ParseConfig mismatch (-want +got):\n%s", diff)
	}
}

func TestParseConfigRelativePaths(t *testing.T) {
	cfg, err := ParseConfig("/srv/bot/config.yaml", lines(
		"conduit: {url: http://localhost:8080, token_file: secrets/token}",
		"state_file: ../state/bot.db",
		"templates_dir: tpl",
		"campaigns_dir: /abs/campaigns",
	))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	got := []string{cfg.Conduit.TokenFile, cfg.StateFile, cfg.TemplatesDir, cfg.CampaignsDir}
	want := []string{"/srv/bot/secrets/token", "/srv/state/bot.db", "/srv/bot/tpl", "/abs/campaigns"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paths mismatch (-want +got):\n%s", diff)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []string
	}{
		{
			name: "token in YAML",
			in: lines(
				"conduit:",
				"  url: https://phab.example.org",
				"  token: api-abcdefghijklmnopqrstuvwxyz12",
			),
			want: []string{`config.yaml:3: conduit.token: the Conduit token must not be written in the config file; ` +
				`put it in a file named by conduit.token_file (mode 0600) or in the AUDITBOT_CONDUIT_TOKEN environment variable`},
		},
		{
			name: "top-level token",
			in: lines(
				"conduit: {url: https://phab.example.org}",
				"token: api-abcdefghijklmnopqrstuvwxyz12",
			),
			want: []string{`config.yaml:2: token: the Conduit token must not be written in the config file; ` +
				`put it in a file named by conduit.token_file (mode 0600) or in the AUDITBOT_CONDUIT_TOKEN environment variable`},
		},
		{
			name: "unknown keys with suggestions",
			in: lines(
				"conduit:",
				"  url: https://phab.example.org",
				"  token_fle: /etc/token",
				"state-file: x.db",
				"colour: blue",
			),
			want: []string{
				`config.yaml:3: conduit: unknown key "token_fle" (did you mean "token_file"?)`,
				`config.yaml:4: unknown key "state-file" (did you mean "state_file"?)`,
				`config.yaml:5: unknown key "colour"`,
			},
		},
		{
			name: "bad risk levels",
			in: lines(
				"conduit: {url: https://phab.example.org}",
				"groups:",
				"  WMF-NDA: {risk: high}",
				"  acl*security: {level: security}",
				"  acl*sre: internal",
				"default_risk: low",
			),
			want: []string{
				`config.yaml:3: groups.WMF-NDA.risk: unknown risk level "high" (want not-risky, vandalism, security or internal)`,
				`config.yaml:4: groups.acl*security: unknown key "level"`,
				`config.yaml:4: groups.acl*security: missing required key "risk"`,
				`config.yaml:5: groups.acl*sre: want a mapping of keys to values, got "internal"`,
				`config.yaml:6: default_risk: unknown risk level "low" (want not-risky, vandalism, security or internal)`,
			},
		},
		{
			name: "duplicate group spellings",
			in: lines(
				"conduit: {url: https://phab.example.org}",
				"groups:",
				"  acl*security: {risk: security}",
				"  '#ACL_Security': {risk: not-risky}",
			),
			want: []string{`config.yaml:4: groups: "#ACL_Security" is the same group as "acl*security" (line 3)`},
		},
		{
			name: "URL with /api",
			in:   lines("conduit:", "  url: https://phab.example.org/api/"),
			want: []string{`config.yaml:2: conduit.url: drop the trailing /api: the bot adds /api/METHOD itself`},
		},
		{
			name: "URL without scheme",
			in:   lines("conduit:", "  url: phab.example.org"),
			want: []string{`config.yaml:2: conduit.url: want an http or https URL such as https://phabricator.example.org`},
		},
		{
			name: "URL with credentials is not echoed",
			in:   lines("conduit:", "  url: https://bot:hunter2@phab.example.org"),
			want: []string{`config.yaml:2: conduit.url: must not contain a user name or password; the token comes from AUDITBOT_CONDUIT_TOKEN or conduit.token_file`},
		},
		{
			name: "URL with a path",
			in:   lines("conduit:", "  url: https://example.org/phab"),
			want: []string{`config.yaml:2: conduit.url: must not have a path ("/phab"): Phabricator is served from the root of its domain`},
		},
		{
			name: "wrong types and ranges",
			in: lines(
				"conduit:",
				"  url: https://phab.example.org",
				"  timeout: 30",
				"  requests_per_second: fast",
				"state_file: [a, b]",
				"log: {level: loud, format: xml}",
				"schedule: {tick_every: 10s}",
				"groups: [WMF-NDA]",
			),
			want: []string{
				`config.yaml:3: conduit.timeout: want a duration with a unit such as 30s or 15m, got the bare number 30`,
				`config.yaml:4: conduit.requests_per_second: want a number, got "fast"`,
				`config.yaml:5: state_file: want a string, got a list`,
				`config.yaml:6: log.level: unknown level "loud" (want trace, debug, info, warn or error)`,
				`config.yaml:6: log.format: unknown format "xml" (want json or console)`,
				`config.yaml:7: schedule.tick_every: 10s is too often; at least 1m, as every tick reads memberships and tasks over Conduit`,
				`config.yaml:8: groups: want a mapping of group names to {risk: LEVEL}, got a list`,
			},
		},
		{
			name: "zero and negative values",
			in:   lines("conduit:", "  url: https://phab.example.org", "  timeout: 0s", "  requests_per_second: -1"),
			want: []string{
				`config.yaml:3: conduit.timeout: must be greater than zero, got 0s`,
				`config.yaml:4: conduit.requests_per_second: must be between 0.01 and 1000, got -1`,
			},
		},
		{
			// NaN and infinities would switch the rate limit off.
			name: "rate that is not a number",
			in:   lines("conduit:", "  url: https://phab.example.org", "  requests_per_second: .nan"),
			want: []string{`config.yaml:3: conduit.requests_per_second: must be between 0.01 and 1000, got .nan`},
		},
		{
			name: "token pasted as token_file",
			in:   lines("conduit:", "  url: https://phab.example.org", "  token_file: api-aaaabbbbccccddddeeeeffffgggg"),
			want: []string{`config.yaml:3: conduit.token_file: holds what looks like the token itself; name the file that holds it instead`},
		},
		{
			name: "missing conduit",
			in:   lines("state_file: x.db"),
			want: []string{`config.yaml:1: missing required key "conduit"`},
		},
		{
			name: "empty url and duplicate key",
			in:   lines("conduit:", "  url:", "state_file: a.db", "state_file: b.db"),
			want: []string{
				`config.yaml:2: conduit.url: is empty; a value is required`,
				`config.yaml:4: duplicate key "state_file" (first at line 3)`,
			},
		},
		{
			name: "empty file",
			in:   []byte("# nothing here\n"),
			want: []string{`config.yaml: file is empty; want a mapping with at least conduit.url`},
		},
		{
			name: "syntax error",
			in:   lines("conduit:", "  url: https://phab.example.org", "  timeout: 30s: x"),
			want: []string{`config.yaml:3: invalid YAML: mapping values are not allowed in this context`},
		},
		{
			name: "two documents",
			in:   lines("conduit: {url: https://phab.example.org}", "---", "state_file: x.db"),
			want: []string{`config.yaml:3: a second YAML document starts here; want exactly one document per file`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig("config.yaml", tt.in)
			if err == nil {
				t.Fatalf("ParseConfig succeeded with %+v, want errors", cfg)
			}
			if cfg != nil {
				t.Errorf("ParseConfig returned a config along with an error")
			}
			if diff := cmp.Diff(tt.want, errorLines(t, err)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
			for _, secret := range []string{"api-abcdefghijklmnopqrstuvwxyz12", "hunter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadConfig error = %v, want one wrapping fs.ErrNotExist", err)
	}
	if !strings.HasPrefix(err.Error(), "campaigns: reading config: ") {
		t.Errorf("LoadConfig error = %q, want it to say what it was doing", err)
	}
}

func TestRiskOf(t *testing.T) {
	cfg := &Config{
		Groups: map[string]Risk{
			"WMF-NDA":       RiskSecurity,
			"acl*sre-team":  RiskInternal,
			"acl_events":    RiskVandalism,
			"#acl_comms":    RiskNotRisky,
			"Some Project":  RiskNotRisky,
			"acl*security":  RiskSecurity,
			"acl*low-stuff": RiskNotRisky,
		},
		DefaultRisk: RiskInternal,
	}
	tests := []struct {
		group string
		want  Risk
	}{
		{"WMF-NDA", RiskSecurity},
		{"wmf-nda", RiskSecurity},
		{"#wmf-nda", RiskSecurity},
		{"acl*sre-team", RiskInternal},
		{"acl_sre-team", RiskInternal},
		{"#acl_sre-team", RiskInternal},
		{"ACL*SRE-Team", RiskInternal},
		{"acl*events", RiskVandalism},
		{"acl*comms", RiskNotRisky},
		{"some_project", RiskNotRisky},
		{" acl*low-stuff ", RiskNotRisky},
		{"acl*unlisted", RiskInternal},
		{"", RiskInternal},
	}
	for _, tt := range tests {
		t.Run(tt.group, func(t *testing.T) {
			if got := cfg.RiskOf(tt.group); got != tt.want {
				t.Errorf("RiskOf(%q) = %v, want %v", tt.group, got, tt.want)
			}
		})
	}
	t.Run("hand-built config without default", func(t *testing.T) {
		if got := (&Config{}).RiskOf("anything"); got != RiskSecurity {
			t.Errorf("RiskOf = %v, want the package default %v", got, RiskSecurity)
		}
	})
}

func TestSortByRisk(t *testing.T) {
	cfg := &Config{
		Groups:      map[string]Risk{"a": RiskNotRisky, "b": RiskInternal, "c": RiskVandalism},
		DefaultRisk: RiskSecurity,
	}
	in := []string{"a", "x", "c", "b", "y"}
	want := []string{"b", "x", "y", "c", "a"}
	if diff := cmp.Diff(want, cfg.SortByRisk(in)); diff != "" {
		t.Errorf("SortByRisk mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "x", "c", "b", "y"}, in); diff != "" {
		t.Errorf("SortByRisk changed its input (-want +got):\n%s", diff)
	}
}

func TestToken(t *testing.T) {
	const secret = "api-abcdefghijklmnopqrstuvwxyz12"
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if s, ok := m[p]; ok {
				return []byte(s), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
	}
	// The fake paths live under a directory that does not exist, so the
	// real-file mode check leaves them to the fake readFile.
	fake := "/nonexistent-auditbot-test/token"

	tests := []struct {
		name      string
		tokenFile string
		env       map[string]string
		files     map[string]string
		want      string
		wantErr   string
	}{
		{
			name:      "env wins over file",
			tokenFile: fake,
			env:       map[string]string{TokenEnv: secret},
			files:     map[string]string{fake: "api-fromfilefromfilefromfilefrom"},
			want:      secret,
		},
		{
			name:      "env is trimmed",
			tokenFile: fake,
			env:       map[string]string{TokenEnv: "  " + secret + "\n"},
			want:      secret,
		},
		{
			name:      "blank env falls back to file",
			tokenFile: fake,
			env:       map[string]string{TokenEnv: "  "},
			files:     map[string]string{fake: "\n  " + secret + "\r\n\n"},
			want:      secret,
		},
		{
			name:    "neither",
			wantErr: "campaigns: no Conduit token: set AUDITBOT_CONDUIT_TOKEN or conduit.token_file in config.yaml",
		},
		{
			name:      "missing file",
			tokenFile: fake,
			wantErr:   "campaigns: reading Conduit token from conduit.token_file: open /nonexistent-auditbot-test/token: file does not exist",
		},
		{
			name:      "empty file",
			tokenFile: fake,
			files:     map[string]string{fake: " \n"},
			wantErr:   "campaigns: Conduit token file /nonexistent-auditbot-test/token is empty",
		},
		{
			name:      "two words",
			tokenFile: fake,
			files:     map[string]string{fake: secret + "\n" + secret},
			wantErr:   "campaigns: Conduit token file /nonexistent-auditbot-test/token holds more than one word; want only the token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &Config{Conduit: ConduitConfig{TokenFile: tt.tokenFile}, Source: "config.yaml"}
			got, err := cfg.Token(env(tt.env), files(tt.files))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Token() error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Token() error %q contains the token", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Token() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestTokenFileMode(t *testing.T) {
	const secret = "api-abcdefghijklmnopqrstuvwxyz12"
	noEnv := func(string) string { return "" }
	dir := t.TempDir()
	tests := []struct {
		mode    os.FileMode
		wantErr bool
	}{
		{0o600, false},
		{0o400, false},
		{0o640, true},
		{0o604, true},
		{0o644, true},
		{0o660, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			path := filepath.Join(dir, "token-"+tt.mode.String())
			if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			cfg := &Config{Conduit: ConduitConfig{TokenFile: path}}
			got, err := cfg.Token(noEnv, nil)
			if !tt.wantErr {
				if err != nil || got != secret {
					t.Fatalf("Token() = %q, %v; want the token", got, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Token() accepted a token file with mode %v", tt.mode)
			}
			if !strings.Contains(err.Error(), "readable by group or others") || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("Token() error = %q, want it to explain the mode and the fix", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Token() error %q contains the token", err)
			}
		})
	}
}

// TestConfigListenProtection: off loopback, the dashboard needs a secret
// or a trusted header with the proxy's addresses (a header alone can be
// forged by any client reaching the port), and metrics need allow_remote.
func TestConfigListenProtection(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, wantErr string
	}{
		{name: "dashboard loopback, no protection", yaml: "dashboard: {listen: 127.0.0.1:8090}"},
		{name: "dashboard off loopback with a secret", yaml: "dashboard: {listen: 0.0.0.0:8090, secret_file: s}"},
		{name: "dashboard off loopback with header only", yaml: "dashboard: {listen: 0.0.0.0:8090, trusted_header: X-Remote-User}", wantErr: "dashboard.trusted_proxies"},
		{name: "dashboard off loopback with header and proxies", yaml: "dashboard: {listen: 0.0.0.0:8090, trusted_header: X-Remote-User, trusted_proxies: [10.0.0.5, '10.1.0.0/24']}"},
		{name: "dashboard loopback with header only", yaml: "dashboard: {listen: 127.0.0.1:8090, trusted_header: X-Remote-User}"},
		{name: "bad proxy", yaml: "dashboard: {listen: 127.0.0.1:8090, trusted_header: X-Remote-User, trusted_proxies: [proxy.example]}", wantErr: `"proxy.example" is not an IP address`},
		{name: "proxies without header", yaml: "dashboard: {listen: 127.0.0.1:8090, trusted_proxies: [10.0.0.5]}", wantErr: "set without dashboard.trusted_header"},
		{name: "metrics loopback", yaml: "metrics: {listen: 127.0.0.1:9090}"},
		{name: "metrics off loopback", yaml: "metrics: {listen: 0.0.0.0:9090}", wantErr: "metrics.allow_remote"},
		{name: "metrics off loopback allowed", yaml: "metrics: {listen: 0.0.0.0:9090, allow_remote: true}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("config.yaml", lines("conduit: {url: https://phab.example.org}", tt.yaml))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ParseConfig: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ParseConfig: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

// TestReadSecretFile: every secret file (the bot's token, an approver's
// token, the dashboard secret) is refused when the group or others may
// read it, when empty, or when it holds more than one word; errors never
// quote the contents.
func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, content string
		mode          os.FileMode
		want          string // in the error; "" for none
	}{
		{"ok", "api-abcdefghijklmnopqrstuvwxyz12\n", 0o600, ""},
		{"group readable", "api-abcdefghijklmnopqrstuvwxyz12", 0o640, "readable by group or others"},
		{"world readable", "api-abcdefghijklmnopqrstuvwxyz12", 0o644, "readable by group or others"},
		{"empty", " \n", 0o600, "is empty"},
		{"two words", "api-abcdefghijklmnopqrstuvwxyz12 extra", 0o600, "more than one word"},
	} {
		for _, kind := range []Secret{ConduitTokenSecret, ApproverTokenSecret, DashboardSecretFile} {
			t.Run(tt.name+"/"+kind.File, func(t *testing.T) {
				path := filepath.Join(dir, strings.ReplaceAll(tt.name+kind.File, " ", "-"))
				if err := os.WriteFile(path, []byte(tt.content), tt.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
				got, err := ReadSecretFile(path, kind, nil)
				switch {
				case tt.want == "" && (err != nil || got != strings.TrimSpace(tt.content)):
					t.Errorf("ReadSecretFile = %q, %v", got, err)
				case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), kind.File)):
					t.Errorf("ReadSecretFile error = %v, want %q naming the %s", err, tt.want, kind.File)
				case err != nil && strings.Contains(err.Error(), "api-abc"):
					t.Errorf("error quotes the secret: %v", err)
				}
			})
		}
	}
}
