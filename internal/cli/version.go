package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and revision are set at link time by release builds (`make
// release`, `make image`), which build without VCS information so that the
// same source gives the same binary whether it comes from a git checkout
// or a tarball:
//
//	-ldflags "-X github.com/auditbot/auditbot/internal/cli.version=v1.2.3
//	          -X github.com/auditbot/auditbot/internal/cli.revision=<commit>"
var version, revision string

// Version is auditbot's version: the one set at link time by a release
// build, else the module version of a `go install`ed release, else
// "devel-REVISION" (with "-dirty" for uncommitted changes) from the build
// info Go embeds in a binary built in a git checkout, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := vcsRevision(bi)
	if rev == "" {
		return "devel"
	}
	suffix := ""
	if dirty {
		suffix = "-dirty"
	}
	return "devel-" + rev[:min(len(rev), 12)] + suffix
}

// Revision is the source revision auditbot was built from: the one set at
// link time, else the VCS revision in the build info, else "".
func Revision() string {
	if revision != "" {
		return revision
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, _ := vcsRevision(bi)
		return rev
	}
	return ""
}

// vcsRevision returns the commit the build info names and whether the
// tree had uncommitted changes.
func vcsRevision(bi *debug.BuildInfo) (rev string, dirty bool) {
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = true
		}
	}
	return rev, dirty
}

// userAgent is sent with every Conduit request.
func userAgent() string { return "auditbot/" + Version() }

func (a *app) versionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print auditbot's version",
		Example: `  auditbot version
  auditbot version --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := struct {
				Version  string `json:"version"`
				Revision string `json:"revision,omitempty"`
				Go       string `json:"go"`
			}{Version(), Revision(), runtime.Version()}
			if asJSON {
				return a.writeJSON("version", v)
			}
			_, err := fmt.Fprintf(a.stdout, "auditbot %s (%s)\n", v.Version, v.Go)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
