package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/auditbot/auditbot/internal/cli"
)

// unit is a systemd unit file: section -> key -> values, in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, data []byte) unit {
	t.Helper()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("line %d: %q is not key=value in a section", n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unit) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	if len(v) != 1 {
		t.Fatalf("[%s] %s: %d values, want 1", section, key, len(v))
	}
	return v[0]
}

// TestSystemdUnit: the unit runs `run` on the config it ships, as the
// user its sysusers file creates, with the state file in its
// StateDirectory and metrics on loopback; it does not restart on what a
// restart cannot fix; and that user reads the config, the token
// (root:auditbot 0440, as the README installs it) and the campaigns, and
// writes the state file.
func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile("systemd/auditbot.service")
	if err != nil {
		t.Fatal(err)
	}
	u := parseUnit(t, data)
	exec := strings.Fields(u.one(t, "Service", "ExecStart"))
	if exec[0] != "/usr/local/bin/auditbot" {
		t.Errorf("ExecStart runs %s", exec[0])
	}
	name, cfgPath := parseArgs(t, exec[1:])
	if name != "run" {
		t.Errorf("ExecStart runs %q, want run", name)
	}
	if cfgPath != "/etc/auditbot/config.yaml" {
		t.Errorf("--config %s, want /etc/auditbot/config.yaml (the path the comments name)", cfgPath)
	}
	cfgData, err := os.ReadFile("systemd/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, cfgPath, cfgData)
	if want := "/var/lib/" + u.one(t, "Service", "StateDirectory"); path.Dir(cfg.StateFile) != want {
		t.Errorf("state_file %s is not in StateDirectory %s", cfg.StateFile, want)
	}
	if host, _, err := net.SplitHostPort(cfg.Metrics.Listen); err != nil || !net.ParseIP(host).IsLoopback() {
		t.Errorf("metrics.listen %q: want a loopback address on a host", cfg.Metrics.Listen)
	}
	prevent := strings.Fields(u.one(t, "Service", "RestartPreventExitStatus"))
	for _, code := range []int{cli.ExitUsage, cli.ExitAuth, cli.ExitDamaged} {
		if !slices.Contains(prevent, strconv.Itoa(code)) {
			t.Errorf("RestartPreventExitStatus lacks %d", code)
		}
	}
	if got := u.one(t, "Service", "KillSignal"); got != "SIGTERM" {
		t.Errorf("KillSignal %s: the daemon stops cleanly on SIGTERM", got)
	}
	if _, ok := u["Service"]["DynamicUser"]; ok {
		t.Error("DynamicUser: commands beside the daemon could not run as its user")
	}
	sysusers, err := os.ReadFile("systemd/auditbot.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	user := u.one(t, "Service", "User")
	if !regexp.MustCompile(`(?m)^u ` + regexp.QuoteMeta(user) + ` `).Match(sysusers) {
		t.Errorf("auditbot.sysusers does not create User=%s", user)
	}
	if g := u.one(t, "Service", "Group"); g != user {
		t.Errorf("Group=%s, want the user's own group %s (the token's group)", g, user)
	}

	// As installed: the daemon's user is some system uid with its own
	// group; StateDirectory= makes its directory.
	const uid, gid = 64000, 64000
	tr := newTree(t)
	tr.file(cfgPath, cfgData, 0, 0, 0o644)
	tr.file(cfg.Conduit.TokenFile, []byte(fakeToken+"\n"), 0, gid, 0o440)
	tr.file(path.Join(cfg.CampaignsDir, "mfa-2027q1.yaml"), []byte("name: mfa-2027q1\ncriteria: [mfa]\ngroups: [WMF-NDA]\ncutoff: 2027-03-31\napprovers: acl*phabricator-admins\n"), 0, 0, 0o644)
	tr.dir(path.Dir(cfg.StateFile), uid, gid, 0o700)
	got := runAsDaemon(t, tr.root, cfgPath, identity{uid: uid, gid: gid})
	if got.Error != "" || !slices.Equal(got.Campaigns, []string{"mfa-2027q1"}) {
		t.Errorf("as the service's user: campaigns %q, error %s", got.Campaigns, got.Error)
	}
}

// maxExposure is the highest `systemd-analyze security` rating allowed:
// 2.5 and below is "OK".
const maxExposure = 2.5

// TestSystemdSecurity rates the unit with `systemd-analyze security
// --offline=true`, which needs no running systemd (Debian's systemd
// package; .ci/run installs it).
func TestSystemdSecurity(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is missing: .ci/run installs Debian's systemd package")
		}
		t.Skip("systemd-analyze is missing (Debian: apt-get install systemd); CI runs this test")
	}
	// --threshold fails the command above the rating (tenths).
	cmd := exec.Command(bin, "security", "--offline=true", "--no-pager", "--threshold="+strconv.Itoa(int(maxExposure*10)), "systemd/auditbot.service")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	// systemd ignores, with a warning, a key or a value it does not know:
	// a misspelt hardening line would protect nothing.
	if stderr.Len() > 0 {
		t.Errorf("systemd ignores lines of the unit:\n%s", stderr.String())
	}
	m := regexp.MustCompile(`Overall exposure level for auditbot\.service: ([0-9.]+) (\w+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no rating in systemd-analyze's output (%v):\n%s", err, out)
	}
	score, perr := strconv.ParseFloat(string(m[1]), 64)
	if perr != nil || score > maxExposure || err != nil {
		t.Errorf("systemd-analyze security rates the unit %s %s (exit %v), want at most %.1f:\n%s", m[1], m[2], err, maxExposure, out)
	}
	t.Logf("systemd-analyze security: %s %s", m[1], m[2])
}
