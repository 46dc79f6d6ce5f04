package conduit

import (
	"errors"
	"testing"
)

// TestEditProjectPolicyChecksArguments: a policy edit names a project, one
// of the three policy transactions and a value, or nothing is sent.
func TestEditProjectPolicyChecksArguments(t *testing.T) {
	c := &Client{} // never reached: every case fails before a call
	for _, tc := range []struct{ name, project, which, value string }{
		{"not a project", "PHID-TASK-aaaaaaaaaaaaaaaaaaaa", "join", "no-one"},
		{"members are no policy", "PHID-PROJ-aaaaaaaaaaaaaaaaaaaa", "members.add", "PHID-USER-x"},
		{"empty value", "PHID-PROJ-aaaaaaaaaaaaaaaaaaaa", "edit", " "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.EditProjectPolicy(t.Context(), tc.project, tc.which, tc.value); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("EditProjectPolicy: %v, want ErrInvalidArgument", err)
			}
		})
	}
}
