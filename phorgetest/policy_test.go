//go:build phorge

package phorgetest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// policyStatus is what the policy scenario reads of `status --json`.
type policyStatus struct {
	PolicyTask string `json:"policy_task"`
	Policies   []struct {
		ID     string `json:"id"`
		Object string `json:"object"`
		Check  string `json:"check"`
		Value  string `json:"value"`
		State  string `json:"state"`
		Fix    string `json:"fix"`
	} `json:"policies"`
}

// policies reads the campaign's policy findings from `status --json`, by
// "object check".
func (b *botDir) policies(campaign string) (string, map[string]string, map[string]string) {
	b.t.Helper()
	var all []policyStatus
	b.okJSON(&all, "status", campaign)
	if len(all) != 1 {
		b.t.Fatalf("status %s: %d reports", campaign, len(all))
	}
	ids, states := map[string]string{}, map[string]string{}
	for _, p := range all[0].Policies {
		k := p.Object + " " + p.Check + " " + p.Value
		ids[k], states[k] = p.ID, p.State
	}
	return all[0].PolicyTask, ids, states
}

// projectPolicy reads a project's policies as ADMIN.
func (e labSettings) projectPolicy(t *testing.T, slug string) map[string]string {
	t.Helper()
	var res struct {
		Data []struct {
			Fields struct {
				Policy map[string]string `json:"policy"`
			} `json:"fields"`
		} `json:"data"`
	}
	e.must(t, "ADMIN_TOKEN", "project.search", map[string]any{"constraints": map[string]any{"slugs": []string{slug}}}, &res)
	if len(res.Data) != 1 {
		t.Fatalf("project %s: %d found", slug, len(res.Data))
	}
	return res.Data[0].Fields.Policy
}

// TestPolicyAuditOnPhorge is the policy audit on a real Phorge, the same
// sequence as bot's TestPolicyAuditScenario on phabtest: an admin opens
// acl*sre-team to every user and makes a task tagged acl*security
// visible to all users; a tick finds both (and the group's member list,
// visible to all users, as seeded) and lists them on the team's policy
// task; one approver's !fix is not enough for an internal group, the
// second sets the join policy back; the task stays found (the bot is no
// member of acl*sre-team, so it cannot give the task that view policy).
func TestPolicyAuditOnPhorge(t *testing.T) {
	env := labEnv(t)
	env.reset(t)
	b := newBot(t, env, "  acl*sre-team: {risk: internal}")
	const name = "lab-policy"
	b.campaign(name, fmt.Sprintf(`criteria: [policy]
groups: [acl*sre-team]
cutoff: %s
team: Security-Team
approvers: acl*phabricator-admins
policy: {scope: [acl*security]}
`, day(30).Format(time.DateOnly)))
	b.ok("launch", name)
	b.ok("tick")
	_, _, states := b.policies(name)
	if len(states) != 1 || states["#acl_sre-team view users"] != "open" {
		t.Fatalf("findings of the seeded lab %v, want the member list of acl*sre-team only", states)
	}

	env.must(t, "ADMIN_TOKEN", "project.edit", map[string]any{"objectIdentifier": "#" + slugSRE,
		"transactions": []map[string]any{{"type": "join", "value": "users"}}}, nil)
	env.must(t, "ADMIN_TOKEN", "maniphest.edit", map[string]any{"objectIdentifier": "T11",
		"transactions": []map[string]any{{"type": "view", "value": "users"}}}, nil)
	b.ok("tick")
	task, ids, states := b.policies(name)
	join, view := ids["#acl_sre-team join users"], ids["T11 task-view users"]
	if join == "" || view == "" || states["#acl_sre-team join users"] != "open" || states["T11 task-view users"] != "open" {
		t.Fatalf("after widening: %v, want the join policy and T11's view policy found", states)
	}
	if task == "" {
		t.Fatal("no policy task")
	}
	// The policy task is restricted: user01 (no approver, not in the team)
	// cannot see it.
	if got := env.tasks(t, "USER_TOKEN", map[string]any{"ids": []int{atoiTask(t, task)}}); len(got) != 0 {
		t.Errorf("user01 sees the policy task %s", task)
	}

	env.commentXacts(t, "ADMIN_TOKEN", task, "!fix "+join)
	b.ok("tick")
	if got := env.projectPolicy(t, slugSRE)["join"]; got != "users" {
		t.Fatalf("join policy %q after one !fix of an internal group, want users (unchanged)", got)
	}
	env.commentXacts(t, "TOKEN_USER03", task, "!fix "+join)
	b.ok("tick")
	if got := env.projectPolicy(t, slugSRE)["join"]; got != "no-one" {
		t.Fatalf("join policy %q after two !fix, want no-one", got)
	}
	_, _, states = b.policies(name)
	if states["#acl_sre-team join users"] != "fixed" || states["T11 task-view users"] != "open" {
		t.Errorf("after the fix: %v, want the join fixed and T11 still open", states)
	}
	var answered bool
	for _, c := range env.comments(t, "ADMIN_TOKEN", task) {
		answered = answered || strings.Contains(c.Text, "fixed by the bot (set to `no-one`)")
	}
	if !answered {
		t.Errorf("the policy task does not say the join policy was fixed")
	}
}

// atoiTask is the id of a monogram.
func atoiTask(t *testing.T, monogram string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(monogram, "T%d", &n); err != nil {
		t.Fatalf("%q is no task monogram", monogram)
	}
	return n
}

// TestPolicyFactsOnPhorge checks NOTES facts 53-57 on the lab (phabtest's
// TestPolicyFacts models them): a custom policy comes back as its PHID,
// the spaces constraint exists only once a Space does, the default Space
// then holds every task without one, statuses take open(). The Space and
// the custom policy are made by lab/policy-objects.php (Conduit cannot);
// it needs the lab's own Phorge on this machine, as root.
func TestPolicyFactsOnPhorge(t *testing.T) {
	env := labEnv(t)
	root := env["LAB_ROOT"]
	if root == "" || os.Geteuid() != 0 {
		t.Skip("needs LAB_ROOT in lab.env and root, to run lab/policy-objects.php with the lab's Phorge")
	}
	env.reset(t)
	t.Cleanup(func() { env.reset(t) })
	ctx := t.Context()
	search := func(constraints map[string]any) ([]json.RawMessage, error) {
		var res struct {
			Data []json.RawMessage `json:"data"`
		}
		err := env.call(ctx, "ADMIN_TOKEN", "maniphest.search", map[string]any{"constraints": constraints}, &res)
		return res.Data, err
	}
	if _, err := search(map[string]any{"spaces": []string{"PHID-SPCE-aaaaaaaaaaaaaaaaaaaa"}}); err == nil || !strings.Contains(err.Error(), "ERR-INVALID-CONSTRAINT") {
		t.Errorf("spaces before any Space: %v, want ERR-INVALID-CONSTRAINT", err)
	}
	open, err := search(map[string]any{"statuses": []string{"open()"}})
	if err != nil || len(open) == 0 {
		t.Errorf("statuses open(): %d tasks, %v", len(open), err)
	}
	all, _ := search(map[string]any{})

	script, err := filepath.Abs("lab/policy-objects.php")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("php", script)
	cmd.Dir = filepath.Join(root, "phorge")
	cmd.Env = append(os.Environ(), "PHORGE_ROOT="+cmd.Dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("policy-objects.php: %v\n%s", err, out)
	}
	made := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			made[k] = v
		}
	}
	space, custom := made["SPACE"], made["POLICY"]
	if !strings.HasPrefix(space, "PHID-SPCE-") || !strings.HasPrefix(custom, "PHID-PLCY-") {
		t.Fatalf("policy-objects.php printed %q", out)
	}
	inSpace, err := search(map[string]any{"spaces": []string{space}})
	if err != nil || len(inSpace) != len(all) {
		t.Errorf("the default Space holds %d tasks (%v), want every task admin sees (%d)", len(inSpace), err, len(all))
	}
	env.must(t, "ADMIN_TOKEN", "project.edit", map[string]any{"objectIdentifier": "#" + slugSRE,
		"transactions": []map[string]any{{"type": "join", "value": custom}}}, nil)
	if got := env.projectPolicy(t, slugSRE)["join"]; got != custom {
		t.Errorf("join policy %q, want the custom policy's PHID %s", got, custom)
	}
}
