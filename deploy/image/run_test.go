package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestImageRuns runs `auditbot version` from the image `make image`
// wrote (dist/image, or $AUDITBOT_IMAGE): its layers unpacked into a
// directory, chrooted there, as the image's user. It must say the version
// and revision the image's labels carry, not "devel". No container engine
// runs on the build machines (only the docker client is installed), so
// this is how the image is run here.
func TestImageRuns(t *testing.T) {
	dir := os.Getenv("AUDITBOT_IMAGE")
	if dir == "" {
		dir = filepath.Join("..", "..", "dist", "image")
	}
	ci := os.Getenv("CI") == "true"
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		if ci {
			t.Fatalf("no image at %s: CI runs make image before make test", dir)
		}
		t.Skipf("no image at %s: `make image` builds it and runs this test", dir)
	}
	if os.Geteuid() != 0 {
		if ci {
			t.Fatal("CI runs as root, which chroot and changing user need")
		}
		t.Skip("running the image's binary in its own file system as its user (chroot) needs root")
	}
	img := platformImageAt(t, dir, runtime.GOOS+"/"+runtime.GOARCH)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var uid, gid uint32
	if _, err := fmt.Sscanf(cf.Config.User, "%d:%d", &uid, &gid); err != nil || uid == 0 {
		t.Fatalf("the image runs as %q, want a non-root UID:GID", cf.Config.User)
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil { // the image's user walks it as "/"
		t.Fatal(err)
	}
	extract(t, img, root)

	cmd := exec.Command(cf.Config.Entrypoint[0], "version", "--json")
	cmd.Dir, cmd.Env = "/", cf.Config.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("auditbot version as %d:%d in the image: %v\n%s", uid, gid, err, ee.Stderr)
		}
		t.Fatalf("auditbot version as %d:%d in the image: %v", uid, gid, err)
	}
	var v struct {
		Kind string `json:"kind"`
		Data struct {
			Version, Revision string
		} `json:"data"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("auditbot version --json: %v\n%s", err, out)
	}
	labels := cf.Config.Labels
	if v.Data.Version != labels[LabelVersion] || v.Data.Revision != labels[LabelRevision] || strings.HasPrefix(v.Data.Version, "devel") {
		t.Errorf("the binary says version %q revision %q; the image's labels %q and %q", v.Data.Version, v.Data.Revision, labels[LabelVersion], labels[LabelRevision])
	}
	t.Logf("ran %s as %d:%d: %s", cf.Config.Entrypoint[0], uid, gid, strings.TrimSpace(string(out)))
}

// platformImageAt finds the image for platform in the OCI layout at dir
// (index.json → the index → one image per platform).
func platformImageAt(t *testing.T, dir, platform string) v1.Image {
	t.Helper()
	top, tm := layoutIndex(t, dir)
	if len(tm.Manifests) != 1 {
		t.Fatalf("index.json: %d entries, want one index", len(tm.Manifests))
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.String() == platform {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("the image has no %s manifest", platform)
	return nil
}

// layoutIndex reads the OCI layout at dir: its index.json, as an index
// and as a manifest.
func layoutIndex(t *testing.T, dir string) (v1.ImageIndex, *v1.IndexManifest) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return top, tm
}

// extract unpacks the image's flattened file system into root, with the
// owners and modes its layers give.
func extract(t *testing.T, img v1.Image, root string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			t.Fatalf("the image has an entry outside its root: %q", h.Name)
		}
		target := filepath.Join(root, name)
		mode := os.FileMode(h.Mode).Perm()
		if h.Mode&0o1000 != 0 {
			mode |= os.ModeSticky
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(target, data, 0o600); err != nil {
				t.Fatal(err)
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, target); err != nil {
				t.Fatal(err)
			}
			continue
		default:
			t.Fatalf("%s: unexpected entry type %c", h.Name, h.Typeflag)
		}
		if err := os.Lchown(target, h.Uid, h.Gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(target, mode); err != nil {
			t.Fatal(err)
		}
	}
}
