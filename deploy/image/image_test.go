package image

import (
	"archive/tar"
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

var created = time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeBinaries writes one stand-in binary per platform.
func fakeBinaries(t *testing.T, platforms ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range platforms {
		path := filepath.Join(t.TempDir(), "auditbot")
		if err := os.WriteFile(path, []byte("a static auditbot for "+p), 0o755); err != nil {
			t.Fatal(err)
		}
		out[p] = path
	}
	return out
}

func options(t *testing.T) Options {
	return Options{Binaries: fakeBinaries(t, "linux/amd64", "linux/arm64"), Version: "v1.2.3", Revision: "0123456789abcdef0123456789abcdef01234567",
		Source: "https://github.com/auditbot/auditbot", Created: created}
}

func digest(t *testing.T, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReproducible: the same inputs give the same index digest, built
// twice (fresh temporary files, other map order); a different version
// or time gives another one.
func TestReproducible(t *testing.T) {
	build := func(o Options) v1.Hash {
		idx, err := Build(o)
		if err != nil {
			t.Fatal(err)
		}
		return digest(t, idx)
	}
	first := build(options(t))
	if again := build(options(t)); again != first {
		t.Errorf("built twice: %s, then %s", first, again)
	}
	o := options(t)
	o.Version = "v1.2.4"
	if other := build(o); other == first {
		t.Error("another version, the same digest")
	}
	o = options(t)
	o.Created = created.Add(time.Second)
	if other := build(o); other == first {
		t.Error("another time, the same digest")
	}
}

// TestContents: each platform's image runs the binary as the non-root
// user, with the OCI labels, a CA bundle of parseable roots, /etc/passwd
// naming the user, and its state directory its own.
func TestContents(t *testing.T) {
	o := options(t)
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 2 || m.Annotations[LabelVersion] != "v1.2.3" {
		t.Fatalf("index: %d manifests, annotations %v", len(m.Manifests), m.Annotations)
	}
	for _, d := range m.Manifests {
		t.Run(d.Platform.String(), func(t *testing.T) {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS+"/"+cf.Architecture != d.Platform.String() {
				t.Errorf("config says %s/%s", cf.OS, cf.Architecture)
			}
			if cf.Config.User != "65532:65532" || !cf.Created.Equal(created) {
				t.Errorf("user %q created %v", cf.Config.User, cf.Created)
			}
			if diff := cmp.Diff([]string{BinaryPath}, cf.Config.Entrypoint); diff != "" {
				t.Errorf("entrypoint: %s", diff)
			}
			for k, want := range map[string]string{LabelVersion: o.Version, LabelRevision: o.Revision, LabelSource: o.Source, LabelCreated: "2027-01-02T03:04:05Z"} {
				if got := cf.Config.Labels[k]; got != want {
					t.Errorf("label %s = %q, want %q", k, got, want)
				}
			}
			files := unpack(t, img)
			bin := files[strings.TrimPrefix(BinaryPath, "/")]
			if bin.mode != 0o755 || bin.uid != 0 || bin.data != "a static auditbot for "+d.Platform.String() {
				t.Errorf("binary: %+v", bin)
			}
			if st := files["var/lib/auditbot"]; st.uid != UID || st.mode != 0o700 {
				t.Errorf("state directory: %+v", st)
			}
			if tmp := files["tmp"]; tmp.mode != 0o1777 {
				t.Errorf("/tmp: %+v", tmp)
			}
			if line := fmt.Sprintf("%s:x:%d:%d:", UserName, UID, GID); !strings.Contains(files["etc/passwd"].data, line) {
				t.Errorf("/etc/passwd has no %q:\n%s", line, files["etc/passwd"].data)
			}
			if n := parseRoots(t, files[strings.TrimPrefix(CAPath, "/")].data); n < 100 {
				t.Errorf("the CA bundle has %d roots", n)
			}
			for name, f := range files {
				if !f.modTime.Equal(created) {
					t.Errorf("%s dated %v", name, f.modTime)
				}
			}
		})
	}
}

// TestWriteLayout: the layout on disk reads back as the same index, and
// writing it again replaces it; a directory that holds anything else is
// left alone.
func TestWriteLayout(t *testing.T) {
	o := options(t)
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	for range 2 {
		if err := WriteLayout(dir, idx, o.Version); err != nil {
			t.Fatal(err)
		}
	}
	_, tm := layoutIndex(t, dir)
	if len(tm.Manifests) != 1 || tm.Manifests[0].Digest != digest(t, idx) || tm.Manifests[0].Annotations[LabelRefName] != o.Version {
		t.Errorf("index.json: %+v, want the index %s named %s", tm.Manifests, digest(t, idx), o.Version)
	}
	tar1, tar2 := filepath.Join(t.TempDir(), "1.tar"), filepath.Join(t.TempDir(), "2.tar")
	for _, f := range []string{tar1, tar2} {
		if err := TarLayout(dir, f, created); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := os.ReadFile(tar1)
	b, _ := os.ReadFile(tar2)
	if len(a) == 0 || string(a) != string(b) {
		t.Error("the layout's tar differs between two writes")
	}

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteLayout(other, idx, o.Version); err == nil {
		t.Error("WriteLayout replaced a directory that held no layout")
	}
	if _, err := os.Stat(filepath.Join(other, "notes.txt")); err != nil {
		t.Errorf("the directory's file is gone: %v", err)
	}
}

// tarFile is one entry of an unpacked image.
type tarFile struct {
	mode    int64
	uid     int
	data    string
	modTime time.Time
}

// unpack reads the image's flattened file system.
func unpack(t *testing.T, img v1.Image) map[string]tarFile {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]tarFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = tarFile{mode: h.Mode, uid: h.Uid, data: string(data), modTime: h.ModTime}
	}
}

// parseRoots counts the certificates of a PEM bundle, failing on any that
// does not parse.
func parseRoots(t *testing.T, data string) int {
	t.Helper()
	n := 0
	rest := []byte(data)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Errorf("root %d: %v", n, err)
		}
		n++
	}
	if s := strings.TrimSpace(string(rest)); s != "" {
		sc := bufio.NewScanner(strings.NewReader(s))
		sc.Scan()
		t.Errorf("the CA bundle ends with text that is no PEM: %q", sc.Text())
	}
	return n
}
