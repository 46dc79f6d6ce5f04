package bot

import (
	"strings"
	"testing"

	"github.com/auditbot/auditbot/conduit"
)

// TestGatekeepers: who may join the campaign's approvers' or team
// project. Anyone may join the approvers: the check fails and every
// tick's guard errors (whoever joins could approve removals). Anyone may
// join the team: the check passes with a warning (whoever joins reads
// every audit task). Any narrower join policy passes.
func TestGatekeepers(t *testing.T) {
	tests := []struct {
		role, join string
		ok, warn   bool
		tickErr    bool
	}{
		{"approvers", "users", false, false, true},
		{"approvers", "public", false, false, true},
		{"approvers", "no-one", true, false, false},
		{"approvers", "admin", true, false, false},
		{"approvers", "PHID-PROJ-x", true, false, false},
		{"team", "users", true, true, false},
		{"team", "obj.project.members", true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.role+"/"+tt.join, func(t *testing.T) {
			p := conduit.Project{PHID: "PHID-PROJ-" + tt.role, Name: tt.role, Policy: conduit.ProjectPolicy{Join: tt.join}}
			var r CheckReport
			checkGatekeeper(&r, p, tt.role)
			if len(r.Rows) != 1 || r.Rows[0].OK != tt.ok || r.Rows[0].Warn != tt.warn {
				t.Fatalf("check rows = %+v, want one with ok=%v warn=%v", r.Rows, tt.ok, tt.warn)
			}
			v := testView(t)
			v.snap.Campaign.ApproversPHID = "PHID-PROJ-approvers"
			v.snap.Campaign.TeamPHID = "PHID-PROJ-team"
			v.gatekeepers = []conduit.Project{p}
			b := &Bot{}
			errs := b.gatekeeperErrors(v)
			if got := len(errs) > 0; got != tt.tickErr {
				t.Errorf("tick errors %v, want an error: %v", errs, tt.tickErr)
			}
			if tt.tickErr && !strings.Contains(errs[0].Error(), "may approve removals") {
				t.Errorf("tick error %q does not say what an open approvers' project lets anyone do", errs[0])
			}
		})
	}
}
