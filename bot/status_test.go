package bot_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/auditbot/auditbot/bot"
)

func TestStatus(t *testing.T) {
	h := newHarness(t, fixture{})
	if _, err := h.bot.Status(campaignName); !errors.Is(err, bot.ErrUnknownCampaign) {
		t.Errorf("Status before launch: %v, want ErrUnknownCampaign", err)
	}
	h.launch()
	h.srv.SetMFA(h.phid("nomfa3"), true)
	task, _ := h.taskOf("nomfa1")
	h.comment("nomfa1", task, "exemption: I only use the API from a locked-down bot host")
	h.comment("erin", task, "How do I do this on a phone?")
	h.tick()
	h.clock.Set(cutoff.Add(time.Hour))
	h.tick()

	calls := h.srv.Calls()
	st, err := h.bot.Status(campaignName)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if diff := cmp.Diff(calls, h.srv.Calls()); diff != "" {
		t.Errorf("Status called Conduit (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"pending": 4, "compliant": 1}, st.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	var tasks []bot.StatusTask
	for _, tk := range st.Tasks {
		tk.Task = ""
		tasks = append(tasks, tk)
	}
	if diff := cmp.Diff([]bot.StatusTask{{Batch: 1, Users: 2, Pending: 2}, {Batch: 2, Users: 2, Pending: 1}, {Batch: 3, Users: 1, Pending: 1}}, tasks); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	attention := strings.Join(st.Attention, "\n")
	for _, want := range []string{"@nomfa1 asks for an exemption", "needs a human answer: @erin", "removal batch R1 waits for approval: 0 of 2"} {
		if !strings.Contains(attention, want) {
			t.Errorf("attention lacks %q:\n%s", want, attention)
		}
	}
	var sb strings.Builder
	if err := st.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "Removal R1: proposed") {
		t.Errorf("status text lacks the removal batch:\n%s", sb.String())
	}
}
