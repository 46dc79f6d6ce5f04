package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestUsage: bad flags and stray arguments are usage errors (exit 2) that
// print the usage and run nothing; -h prints it and exits 0. The demo run
// itself is pinned by internal/demo's golden test.
func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{name: "help", args: []string{"-h"}, code: 0, stderr: "Usage: auditbot-demo"},
		{name: "unknown flag", args: []string{"--bogus"}, code: 2, stderr: "flag provided but not defined: -bogus"},
		{name: "old subcommand", args: []string{"demo"}, code: 2, stderr: `unexpected argument "demo"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.stderr)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed a timeline: %q", stdout.String())
			}
		})
	}
}
