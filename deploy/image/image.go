// Package image builds auditbot's container image from static binaries,
// with no base image and no network: an empty image plus two layers, one
// with what every process needs (a CA bundle, /etc/passwd for the
// non-root user, a writable /tmp and state directory) and one with the
// binary. Every byte comes from its inputs, so the same binaries, version
// and time give the same digest on any machine (see Options.Created).
//
// The CA bundle is Mozilla's NSS trust store as the Go team ships it in
// golang.org/x/crypto/x509roots/fallback, pinned by go.sum like any module,
// rather than the build machine's /etc/ssl/certs, which changes with the
// host's ca-certificates package and would make two hosts build two
// different images.
package image

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// Where things are in the image, and who runs it. The Kubernetes manifest
// and its test use the same user.
const (
	BinaryPath = "/usr/local/bin/auditbot"
	CAPath     = "/etc/ssl/certs/ca-certificates.crt"
	StateDir   = "/var/lib/auditbot"
	ConfigDir  = "/etc/auditbot"
	UID        = 65532 // distroless's "nonroot", so existing policies recognise it
	GID        = 65532
	UserName   = "nonroot"
	// MetricsPort is the port the image exposes for /healthz, /readyz
	// and /metrics (metrics.listen in the Kubernetes config).
	MetricsPort = 9090
)

// OCI annotation and label keys.
const (
	LabelVersion  = "org.opencontainers.image.version"
	LabelRevision = "org.opencontainers.image.revision"
	LabelSource   = "org.opencontainers.image.source"
	LabelCreated  = "org.opencontainers.image.created"
	LabelTitle    = "org.opencontainers.image.title"
	LabelDescr    = "org.opencontainers.image.description"
	LabelLicenses = "org.opencontainers.image.licenses"
	LabelRefName  = "org.opencontainers.image.ref.name"
)

// Options say what goes into the image.
type Options struct {
	// Binaries maps a platform ("linux/amd64") to a static auditbot
	// binary built for it; one image per platform, in one index.
	Binaries map[string]string
	// Version and Revision are auditbot's (what `auditbot version`
	// says, and the commit); Source is the repository's URL.
	Version, Revision, Source string
	// Created dates every file and the image config: the commit's time
	// (SOURCE_DATE_EPOCH) for a reproducible image.
	Created time.Time
}

// Build returns an OCI image index holding one image per platform.
func Build(o Options) (v1.ImageIndex, error) {
	if len(o.Binaries) == 0 {
		return nil, fmt.Errorf("image: no binary")
	}
	if o.Version == "" || o.Revision == "" {
		return nil, fmt.Errorf("image: version and revision are required (labels and `auditbot version`)")
	}
	base, err := baseLayer(o.Created)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	platforms := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		platforms = append(platforms, p)
	}
	slices.Sort(platforms) // a map's order would change the index digest
	for _, p := range platforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			return nil, fmt.Errorf("image: platform %q: %w", p, err)
		}
		img, err := platformImage(o, base, o.Binaries[p], plat)
		if err != nil {
			return nil, fmt.Errorf("image: %s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
	}
	return mutate.Annotations(idx, o.annotations()).(v1.ImageIndex), nil
}

// annotations are the OCI labels, on the config and the manifests alike.
func (o Options) annotations() map[string]string {
	return map[string]string{
		LabelVersion:  o.Version,
		LabelRevision: o.Revision,
		LabelSource:   o.Source,
		LabelCreated:  o.Created.UTC().Format(time.RFC3339),
		LabelTitle:    "auditbot",
		LabelDescr:    "Security audit campaigns on Phabricator and Phorge access groups",
	}
}

// platformImage is the image for one platform.
func platformImage(o Options, base v1.Layer, binary string, plat *v1.Platform) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	app, err := layer(o.Created, []entry{
		dir("usr/", 0, 0o755), dir("usr/local/", 0, 0o755), dir("usr/local/bin/", 0, 0o755),
		file(strings.TrimPrefix(BinaryPath, "/"), 0, 0o755, bin),
	})
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: o.Created.UTC()}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: plat.Architecture,
		OS:           plat.OS,
		Variant:      plat.Variant,
		Created:      created,
		Config: v1.Config{
			User:         fmt.Sprintf("%d:%d", UID, GID),
			Entrypoint:   []string{BinaryPath},
			Cmd:          []string{"run"},
			WorkingDir:   StateDir,
			Env:          []string{"PATH=/usr/local/bin", "AUDITBOT_CONFIG=" + ConfigDir + "/config.yaml"},
			ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", MetricsPort): {}},
			Labels:       o.annotations(),
		},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "auditbot image: CA bundle, users, directories"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: created, CreatedBy: "auditbot image: " + BinaryPath}})
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, o.annotations()).(v1.Image), nil
}

// baseLayer holds what the binary needs around it, the same on every
// platform.
func baseLayer(created time.Time) (v1.Layer, error) {
	ca, err := caBundle()
	if err != nil {
		return nil, err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n", UserName, UID, GID, UserName, UserName)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", UserName, GID)
	return layer(created, []entry{
		dir("etc/", 0, 0o755),
		dir(strings.TrimPrefix(ConfigDir, "/")+"/", 0, 0o755),
		file("etc/group", 0, 0o644, []byte(group)),
		// Go's resolver reads it to decide between /etc/hosts and DNS.
		file("etc/nsswitch.conf", 0, 0o644, []byte("hosts: files dns\n")),
		file("etc/passwd", 0, 0o644, []byte(passwd)),
		dir("etc/ssl/", 0, 0o755), dir("etc/ssl/certs/", 0, 0o755),
		file(strings.TrimPrefix(CAPath, "/"), 0, 0o644, ca),
		dir("home/", 0, 0o755), dir("home/"+UserName+"/", UID, 0o700),
		dir("tmp/", 0, 0o1777),
		dir("var/", 0, 0o755), dir("var/lib/", 0, 0o755),
		dir(strings.TrimPrefix(StateDir, "/")+"/", UID, 0o700),
	})
}

// caBundle is the NSS roots as PEM. A root that NSS trusts only with a
// constraint (distrusted for certificates issued after a date) is left
// out: a PEM file cannot carry the constraint, and trusting it without
// would trust more than Mozilla does.
func caBundle() ([]byte, error) {
	var b bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, err
		}
	}
	if b.Len() == 0 {
		return nil, fmt.Errorf("image: the CA bundle is empty")
	}
	return b.Bytes(), nil
}

// entry is one file or directory of a layer.
type entry struct {
	name string // relative, directories ending in "/"
	uid  int
	mode int64
	data []byte
}

func dir(name string, uid int, mode int64) entry { return entry{name: name, uid: uid, mode: mode} }
func file(name string, uid int, mode int64, data []byte) entry {
	return entry{name: name, uid: uid, mode: mode, data: data}
}

// layer writes entries (parents first) as a gzipped tar layer, every
// header fixed: the same entries give the same digest.
func layer(created time.Time, entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: created.UTC().Truncate(time.Second), Format: tar.FormatPAX}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			if parent := path.Dir(e.name) + "/"; parent != "./" && !slices.ContainsFunc(entries, func(p entry) bool { return p.name == parent }) {
				return nil, fmt.Errorf("image: %s has no parent directory entry", e.name)
			}
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
}
