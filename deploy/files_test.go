package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/state"
)

// The daemon's file system as its supervisor lays it out is built under a
// temporary root, and a copy of this test binary, run as the daemon's user
// (uid, gid and supplementary groups), reads it the way the daemon does:
// the config, the token (through the real permission check), every
// campaign file, and the state file and its writer lock, created. TestMain
// runs that child when childEnv is set.
const (
	childEnv       = "AUDITBOT_DEPLOY_CHILD" // the root, as the child sees it
	childConfigEnv = "AUDITBOT_DEPLOY_CONFIG"
)

func TestMain(m *testing.M) {
	if root := os.Getenv(childEnv); root != "" {
		json.NewEncoder(os.Stdout).Encode(readAsDaemon(root, os.Getenv(childConfigEnv)))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// daemonView is what the child found.
type daemonView struct {
	Campaigns []string `json:"campaigns"`
	Error     string   `json:"error,omitempty"`
}

// readAsDaemon reads what `auditbot run` reads at start, every path the
// config names taken under root.
func readAsDaemon(root, configPath string) daemonView {
	var v daemonView
	fail := func(err error) daemonView { v.Error = err.Error(); return v }
	cfg, err := campaigns.LoadConfig(filepath.Join(root, configPath))
	if err != nil {
		return fail(err)
	}
	cfg.Conduit.TokenFile = filepath.Join(root, cfg.Conduit.TokenFile)
	if _, err := cfg.Token(func(string) string { return "" }, nil); err != nil {
		return fail(err)
	}
	dir := filepath.Join(root, cfg.CampaignsDir)
	names, err := campaigns.ListCampaigns(dir)
	if err != nil {
		return fail(err)
	}
	for _, n := range names {
		path, err := campaigns.FindCampaign(dir, n)
		if err != nil {
			return fail(err)
		}
		c, err := campaigns.LoadCampaign(path)
		if err != nil {
			return fail(err)
		}
		if c.Name != n {
			return fail(fmt.Errorf("%s names campaign %q", path, c.Name))
		}
		v.Campaigns = append(v.Campaigns, n)
	}
	statePath := filepath.Join(root, cfg.StateFile)
	unlock, err := state.LockWriter(context.Background(), statePath, "deploy test", nil)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	st, err := state.Open(statePath, state.Options{})
	if err != nil {
		return fail(err)
	}
	if err := st.Close(); err != nil {
		return fail(err)
	}
	return v
}

// identity is who the daemon runs as.
type identity struct {
	uid, gid uint32
	groups   []uint32 // supplementary (the pod's fsGroup)
}

// runAsDaemon runs readAsDaemon in a child process as id.
func runAsDaemon(t *testing.T, root, configPath string, id identity) daemonView {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root, which running as the daemon's user needs")
		}
		t.Skip("reading the files as the daemon's user needs root (to change user)")
	}
	// The test binary sits in a directory only root may enter.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	binDir := sharedTempDir(t)
	bin := filepath.Join(binDir, "deploy.test")
	copyFile(t, self, bin, 0o755)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+root, childConfigEnv+"="+configPath)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id.uid, Gid: id.gid, Groups: id.groups}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the child as %+v: %v", id, err)
	}
	var v daemonView
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("the child's answer %q: %v", out, err)
	}
	return v
}

// tree builds the daemon's file system under a root only the test's
// processes use.
type tree struct {
	t    *testing.T
	root string
}

func newTree(t *testing.T) *tree {
	return &tree{t: t, root: sharedTempDir(t)}
}

// sharedTempDir is a t.TempDir that other users may enter (the test's
// temporary directory too): what is inside says who may read it.
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dir makes a directory (and its missing parents, root's, 0755).
func (tr *tree) dir(path string, uid, gid int, mode fs.FileMode) {
	tr.t.Helper()
	p := filepath.Join(tr.root, path)
	if err := os.MkdirAll(p, 0o755); err != nil {
		tr.t.Fatal(err)
	}
	tr.own(p, uid, gid, mode)
}

// file writes one file (its parent made as by dir, root's).
func (tr *tree) file(path string, data []byte, uid, gid int, mode fs.FileMode) {
	tr.t.Helper()
	tr.dir(filepath.Dir(path), 0, 0, 0o755)
	p := filepath.Join(tr.root, path)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tr.t.Fatal(err)
	}
	tr.own(p, uid, gid, mode)
}

// atomicVolume writes files the way the kubelet writes a ConfigMap or
// Secret volume at mountPath: each file in a timestamped directory,
// reached through the symlinks KEY -> ..data/KEY and ..data -> that
// directory; with fsGroup, the files are root:fsGroup with the group
// read bit added (kubernetes issue 57923).
func (tr *tree) atomicVolume(mountPath string, files map[string][]byte, fsGroup int, mode fs.FileMode) {
	tr.t.Helper()
	const stamp = "..2027_01_02_03_04_05.000000001"
	tr.dir(mountPath, 0, fsGroup, 0o755|fs.ModeSetgid|fs.ModeSticky)
	tr.dir(filepath.Join(mountPath, stamp), 0, fsGroup, 0o755|fs.ModeSetgid)
	for key, data := range files {
		tr.file(filepath.Join(mountPath, stamp, key), data, 0, fsGroup, mode|0o440)
		tr.symlink(filepath.Join("..data", key), filepath.Join(mountPath, key))
	}
	tr.symlink(stamp, filepath.Join(mountPath, "..data"))
}

func (tr *tree) symlink(target, path string) {
	tr.t.Helper()
	if err := os.Symlink(target, filepath.Join(tr.root, path)); err != nil {
		tr.t.Fatal(err)
	}
}

func (tr *tree) own(p string, uid, gid int, mode fs.FileMode) {
	tr.t.Helper()
	if err := os.Lchown(p, uid, gid); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		tr.t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string, mode fs.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// fakeToken has the form of a Conduit token.
const fakeToken = "api-abcdefghijklmnopqrstuvwxyz12"
