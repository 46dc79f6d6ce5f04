package templates_test

import (
	"fmt"
	"log"
	"time"

	"github.com/auditbot/auditbot/templates"
)

func ExampleSet_Render() {
	set, err := templates.Load("") // built-in texts only
	if err != nil {
		log.Fatal(err)
	}
	title, err := set.Render(templates.TaskTitle, templates.TaskData{
		Campaign: templates.Campaign{
			Name:       "mfa-2027",
			Cutoff:     time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
			CutoffDate: "2027-02-28",
			Groups: []templates.Group{
				{Name: "acl*security", Risk: "security", RiskLabel: "security"},
				{Name: "WMF-NDA", Risk: "security", RiskLabel: "security"},
			},
		},
		Batch: 2, Batches: 3,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(title)

	// User-supplied text is rendered inert: here a real name trying to
	// mention and link.
	thanks, err := set.Render(templates.ComplianceThanks, templates.ReplyData{
		Person: templates.Person{Username: "ada", RealName: "@admin [[ https://evil.example ]]"},
		Groups: []string{"acl*security"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(thanks)
	// Output:
	// Action required by 2027-02-28: enable multi-factor authentication to keep access to acl*security, WMF-NDA (batch 2 of 3)
	// @ada: thank you. The bot checked your account and multi-factor authentication is enabled. You keep your access to acl*security, and there is nothing more to do for you on this task.
}
