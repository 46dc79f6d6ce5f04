// Package deploy_test checks the deployment examples against the binary:
// the command lines name commands and flags that exist, the configs they
// point at load, and the paths, ports and credentials agree.
package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/internal/cli"
	"github.com/auditbot/auditbot/internal/service"
)

// parseArgs parses a command line (without the binary) with the real
// command tree and returns the command and its --config.
func parseArgs(t *testing.T, args []string) (string, string) {
	t.Helper()
	root := cli.Command()
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	if len(cmd.Flags().Args()) != 0 {
		t.Fatalf("%q: unexpected arguments %q", args, cmd.Flags().Args())
	}
	cfg, err := cmd.Flags().GetString("config")
	if err != nil {
		t.Fatal(err)
	}
	return cmd.Name(), cfg
}

// loadConfig parses a config file as the binary would at path as.
func loadConfig(t *testing.T, as string, data []byte) *campaigns.Config {
	t.Helper()
	cfg, err := campaigns.ParseConfig(as, data)
	if err != nil {
		t.Fatalf("config for %s: %v", as, err)
	}
	return cfg
}

// served reports whether the daemon's mux serves path.
func served(path string) bool {
	rec := httptest.NewRecorder()
	service.New(service.Options{}).Mux().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code != http.StatusNotFound
}

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

	// LoadCredential=NAME:SOURCE puts the token at
	// /run/credentials/UNIT/NAME ($CREDENTIALS_DIRECTORY/NAME).
	cred, _, ok := strings.Cut(u.one(t, "Service", "LoadCredential"), ":")
	if !ok {
		t.Fatal("LoadCredential is not NAME:PATH")
	}
	if want := "/run/credentials/auditbot.service/" + cred; cfg.Conduit.TokenFile != want {
		t.Errorf("conduit.token_file %s, want %s", cfg.Conduit.TokenFile, want)
	}
	if want := "/var/lib/" + u.one(t, "Service", "StateDirectory"); path.Dir(cfg.StateFile) != want {
		t.Errorf("state_file %s is not in StateDirectory %s", cfg.StateFile, want)
	}
	if host, _, err := net.SplitHostPort(cfg.Metrics.Listen); err != nil || !net.ParseIP(host).IsLoopback() {
		t.Errorf("metrics.listen %q: want a loopback address on a host", cfg.Metrics.Listen)
	}
	// Restarting does not help with a rejected token or a bad config.
	prevent := strings.Fields(u.one(t, "Service", "RestartPreventExitStatus"))
	for _, code := range []int{cli.ExitUsage, cli.ExitAuth, cli.ExitDamaged} {
		if !slices.Contains(prevent, strconv.Itoa(code)) {
			t.Errorf("RestartPreventExitStatus lacks %d", code)
		}
	}
	if got := u.one(t, "Service", "KillSignal"); got != "SIGTERM" {
		t.Errorf("KillSignal %s: the daemon stops cleanly on SIGTERM", got)
	}
}

// k8s is the part of the Kubernetes objects the test reads.
type k8s struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Template struct {
			Spec struct {
				Containers []struct {
					Args  []string `yaml:"args"`
					Ports []struct {
						ContainerPort int `yaml:"containerPort"`
					} `yaml:"ports"`
					Liveness  probe `yaml:"livenessProbe"`
					Readiness probe `yaml:"readinessProbe"`
					Mounts    []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
						SubPath   string `yaml:"subPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
					Secret *struct {
						DefaultMode int `yaml:"defaultMode"`
					} `yaml:"secret"`
					PVC *struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port int    `yaml:"port"`
	} `yaml:"httpGet"`
}

func TestKubernetesManifest(t *testing.T) {
	f, err := os.Open("kubernetes/auditbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	objs := map[string]k8s{}
	for {
		var o k8s
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		objs[o.Kind] = o
	}
	dep, ok := objs["Deployment"]
	if !ok {
		t.Fatal("no Deployment")
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 {
		t.Error("the Deployment must have exactly one replica: one daemon per state file")
	}
	if dep.Spec.Strategy.Type != "Recreate" {
		t.Errorf("strategy %q, want Recreate: a rolling update would run two daemons on the volume", dep.Spec.Strategy.Type)
	}
	if _, ok := objs["PersistentVolumeClaim"]; !ok {
		t.Error("no PersistentVolumeClaim for the state file")
	}
	cs := dep.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	c := cs[0]
	name, cfgPath := parseArgs(t, c.Args)
	if name != "run" {
		t.Errorf("the container runs %q, want run", name)
	}
	mounts := map[string]string{} // volume -> mount path (of the file, for a subPath)
	for _, m := range c.Mounts {
		p := m.MountPath
		if m.SubPath != "" && path.Base(p) != m.SubPath {
			t.Errorf("mount %s: subPath %s under another name", p, m.SubPath)
		}
		mounts[m.Name] = p
	}
	var cfg *campaigns.Config
	for _, v := range dep.Spec.Template.Spec.Volumes {
		switch {
		case v.ConfigMap != nil && mounts[v.Name] == cfgPath:
			cm := objs["ConfigMap"]
			if cm.Metadata.Name != v.ConfigMap.Name {
				t.Fatalf("the config comes from ConfigMap %s, the manifest has %s", v.ConfigMap.Name, cm.Metadata.Name)
			}
			cfg = loadConfig(t, cfgPath, []byte(cm.Data[path.Base(cfgPath)]))
		}
	}
	if cfg == nil {
		t.Fatalf("no ConfigMap mounted at --config %s", cfgPath)
	}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		switch {
		case v.Secret != nil:
			if path.Dir(cfg.Conduit.TokenFile) != mounts[v.Name] {
				t.Errorf("conduit.token_file %s is not in the Secret's mount %s", cfg.Conduit.TokenFile, mounts[v.Name])
			}
			if v.Secret.DefaultMode&0o077 != 0 {
				t.Errorf("the Secret's defaultMode %#o lets group or others read the token (auditbot refuses it)", v.Secret.DefaultMode)
			}
		case v.PVC != nil:
			if path.Dir(cfg.StateFile) != mounts[v.Name] {
				t.Errorf("state_file %s is not on the PVC's mount %s", cfg.StateFile, mounts[v.Name])
			}
		}
	}
	_, port, err := net.SplitHostPort(cfg.Metrics.Listen)
	if err != nil {
		t.Fatalf("metrics.listen %q: %v", cfg.Metrics.Listen, err)
	}
	for _, p := range []struct {
		name string
		pr   probe
		want string
	}{{"liveness", c.Liveness, "/healthz"}, {"readiness", c.Readiness, "/readyz"}} {
		if p.pr.HTTPGet.Path != p.want || !served(p.pr.HTTPGet.Path) {
			t.Errorf("%s probe on %q, want %s", p.name, p.pr.HTTPGet.Path, p.want)
		}
		if strconv.Itoa(p.pr.HTTPGet.Port) != port {
			t.Errorf("%s probe on port %d, metrics.listen is %s", p.name, p.pr.HTTPGet.Port, cfg.Metrics.Listen)
		}
	}
	if len(c.Ports) != 1 || strconv.Itoa(c.Ports[0].ContainerPort) != port {
		t.Errorf("containerPort %v, metrics.listen is %s", c.Ports, cfg.Metrics.Listen)
	}
}
