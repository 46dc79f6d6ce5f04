package cli

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"

	"github.com/auditbot/auditbot/internal/safetext"
)

// JSONSchema names the shape of every --json output. It changes only when
// a field is removed or changes meaning; added fields keep it.
const JSONSchema = "auditbot/v1"

// Envelope is every --json output: one object whose kind names the
// command's data, so that a script can check what it reads (as kubectl's
// apiVersion and kind).
type Envelope struct {
	Schema string `json:"schema"`
	Kind   string `json:"kind"`
	Data   any    `json:"data"`
}

// writeJSON prints data in the envelope, as kind, on stdout: the one
// object a --json run prints. A command that fails after printing it
// (a tick with errors, a validate that found problems) exits non-zero
// with no second object.
func (a *app) writeJSON(kind string, data any) error {
	a.jsonWritten = true
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(Envelope{Schema: JSONSchema, Kind: kind, Data: data})
}

// ErrorData is the data of a --json run that failed before printing its
// own output: kind "error".
type ErrorData struct {
	// Command is the command that failed, as typed: "launch", "state check".
	Command string `json:"command"`
	// ExitCode is the process's exit code, ExitName its name in
	// `auditbot help exit-codes`.
	ExitCode int    `json:"exit_code"`
	ExitName string `json:"exit_name"`
	// Error is the message also printed on stderr.
	Error string `json:"error"`
}

// wantsJSON reports whether the command line asked for --json: the flag
// as parsed, or as typed when parsing failed before it was read.
func wantsJSON(cmd *cobra.Command, args []string) bool {
	if cmd != nil {
		if f := cmd.Flags().Lookup("json"); f != nil && f.Changed {
			return f.Value.String() == "true"
		}
	}
	for _, arg := range args {
		switch arg {
		case "--":
			return false
		case "--json", "--json=true":
			return true
		}
	}
	return false
}

// exitName is code's name in ExitCodes.
func exitName(code int) string {
	for _, e := range ExitCodes {
		if e.Code == code {
			return e.Name
		}
	}
	return "failure"
}

// escapeText makes text that others wrote safe to print on a terminal, as
// one line (see safetext.Line).
func escapeText(s string) string { return safetext.Line(s) }

// textWriter escapes what passes through it, keeping newlines and tabs:
// for text output assembled elsewhere (status) from fields others wrote.
type textWriter struct{ w io.Writer }

func (t textWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(t.w, safetext.Escape(string(p), true)); err != nil {
		return 0, err
	}
	return len(p), nil
}
