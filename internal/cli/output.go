package cli

import (
	"encoding/json"
	"io"

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

// writeJSON prints data in the envelope, as kind.
func writeJSON(w io.Writer, kind string, data any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Envelope{Schema: JSONSchema, Kind: kind, Data: data})
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
