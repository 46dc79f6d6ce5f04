package replies_test

import (
	"fmt"

	"github.com/auditbot/auditbot/bot/replies"
)

func ExampleParse() {
	comments := []string{
		"Hi bot, I've enabled 2FA. Thanks!",
		"> write `done` once enabled\n\nHow do I enable MFA?",
		"I'm on leave until 2027-03-15",
		"!deny @alice a spare key is available from IT",
	}
	for _, c := range comments {
		r := replies.Parse(c)
		fmt.Printf("%s target=%q reason=%q", r.Kind, r.Target, r.Reason)
		if !r.Until.IsZero() {
			fmt.Printf(" until=%s", r.Until.Format("2006-01-02"))
		}
		fmt.Println()
	}
	// Output:
	// claim-compliance target="" reason=""
	// other target="" reason=""
	// exemption target="" reason="on leave" until=2027-03-15
	// deny target="alice" reason="a spare key is available from IT"
}
