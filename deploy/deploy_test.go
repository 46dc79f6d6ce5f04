// Package deploy_test checks the deployment files against the binary: the
// command lines name commands and flags that exist, the configs they point
// at load, the paths, ports, users and credentials agree, and the files
// the daemon reads are readable (and the state directory writable) by the
// user it runs as, laid out as systemd or the kubelet lays them out.
package deploy_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

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
