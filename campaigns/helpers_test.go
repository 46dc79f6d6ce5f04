package campaigns

import (
	"errors"
	"strings"
	"testing"
)

// errorLines returns each joined error's message, or nil for a nil error.
func errorLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range joined.Unwrap() {
		var le *LineError
		if !errors.As(e, &le) {
			t.Errorf("joined error %q is not a *LineError", e)
		}
		out = append(out, e.Error())
	}
	return out
}

// lines joins its arguments with newlines, so test inputs show line numbers
// by position.
func lines(ls ...string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }
