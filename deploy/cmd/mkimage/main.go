// Command mkimage builds auditbot's container image from static binaries
// (package image): `make image` and `make release` run it.
//
//	mkimage -binary linux/amd64=dist/bin/linux_amd64/auditbot \
//	    -version v1.2.3 -revision $(git rev-parse HEAD) -created $SOURCE_DATE_EPOCH \
//	    -oci dist/image -docker dist/auditbot-image.tar
//
// It prints the index's digest and each platform's manifest digest and
// size.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/auditbot/auditbot/deploy/image"
)

// binaries collects -binary PLATFORM=PATH flags.
type binaries map[string]string

func (b binaries) String() string { return fmt.Sprint(map[string]string(b)) }

func (b binaries) Set(s string) error {
	plat, path, ok := strings.Cut(s, "=")
	if !ok || plat == "" || path == "" {
		return fmt.Errorf("want PLATFORM=PATH, such as linux/amd64=dist/auditbot")
	}
	b[plat] = path
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	o := image.Options{Binaries: binaries{}}
	fs.Var(binaries(o.Binaries), "binary", "PLATFORM=PATH of a static binary (repeatable)")
	fs.StringVar(&o.Version, "version", "", "auditbot's version (label, ref name)")
	fs.StringVar(&o.Revision, "revision", "", "the commit it was built from (label)")
	fs.StringVar(&o.Source, "source", "https://github.com/auditbot/auditbot", "the source repository (label)")
	created := fs.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "Unix time that dates every file and the config (default $SOURCE_DATE_EPOCH)")
	ociDir := fs.String("oci", "", "write an OCI layout to this directory")
	ociTar := fs.String("oci-tar", "", "also write the OCI layout as this tar file")
	docker := fs.String("docker", "", "write a `docker load` archive to this file (one platform only)")
	tag := fs.String("tag", "", "the docker archive's tag (default auditbot:VERSION)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secs, err := strconv.ParseInt(*created, 10, 64)
	if err != nil {
		return fmt.Errorf("-created %q: want Unix seconds (the commit time, SOURCE_DATE_EPOCH)", *created)
	}
	o.Created = time.Unix(secs, 0).UTC()
	idx, err := image.Build(o)
	if err != nil {
		return err
	}
	if *ociDir != "" {
		if err := image.WriteLayout(*ociDir, idx, o.Version); err != nil {
			return err
		}
		if *ociTar != "" {
			if err := image.TarLayout(*ociDir, *ociTar, o.Created); err != nil {
				return err
			}
		}
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("index %s\n", digest)
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range m.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		size, err := imageSize(img)
		if err != nil {
			return err
		}
		fmt.Printf("%s %s %d bytes (layers, compressed)\n", d.Platform, d.Digest, size)
		if *docker != "" {
			if len(m.Manifests) != 1 {
				return fmt.Errorf("-docker: a docker archive holds one platform, the index has %d", len(m.Manifests))
			}
			t := *tag
			if t == "" {
				t = "auditbot:" + o.Version
			}
			if err := image.WriteDockerArchive(*docker, img, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// imageSize is the sum of the image's compressed layers.
func imageSize(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range layers {
		s, err := l.Size()
		if err != nil {
			return 0, err
		}
		n += s
	}
	return n, nil
}
