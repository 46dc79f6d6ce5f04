package replies_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/auditbot/auditbot/bot/replies"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// parseCases is shared with FuzzParse as its seed corpus.
var parseCases = []struct {
	name string
	in   string
	want replies.Reply // Text is checked separately, in TestParseText
}{
	// Claims of compliance.
	{"claim/done", "done", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/Done!", "Done!", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/DONE upper case", "DONE.", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/bold remarkup", "**done**", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/italic remarkup", "//Done//", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/emoji", "Done ✅🎉", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/greeting and thanks", "Hi bot,\n\ndone, thanks!", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/enabled", "enabled", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/I've enabled 2FA", "I've enabled 2FA", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/curly apostrophe", "I’ve enabled 2FA.", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/MFA is on now", "MFA is on now", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/set up two-factor", "set up two-factor", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/TOTP configured", "TOTP configured", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/security key added", "I have added a security key", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/fixed", "fixed", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/completed", "Completed.", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/all set", "All set 👍", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/now have yubikey", "I now have a YubiKey registered on my account", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/2FA now active", "2FA is now active, sorry for the delay", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/authenticator app", "Set up the authenticator app just now.", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/multi-factor turned on", "Turned on multi-factor auth.", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/question elsewhere", "I enabled 2FA. Is that enough?", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/uncertain aside", "Not sure I did it right, but done", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/done with MFA", "All done with the MFA setup", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/no newline at end and CRLF", "Hi,\r\nDone\r\nThanks", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/negated remove", "I enabled it, please don't remove me", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/please do not remove", "Please do not remove me. I have enabled 2FA.", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/after quoted instructions", "> Please enable MFA and write `done` once enabled.\n\nDone!", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/set it up", "I set it up", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/turned it on", "I've turned it on", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/should be done", "Should be done now", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/before leave", "I enabled MFA before going on leave", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"claim/after leave in the past", "I was on leave until Monday. Enabled now.", replies.Reply{Kind: replies.KindClaimCompliance}},

	// Not claims.
	{"other/not done yet", "not done yet", replies.Reply{}},
	{"other/haven't enabled", "I haven't enabled it", replies.Reply{}},
	{"other/havent without apostrophe", "havent enabled mfa", replies.Reply{}},
	{"other/can't enable", "can't enable MFA", replies.Reply{}},
	{"other/how do I", "how do I enable MFA?", replies.Reply{}},
	{"other/how without question mark", "how do I set up 2FA", replies.Reply{}},
	{"other/done?", "done?", replies.Reply{}},
	{"other/is it done", "Is MFA enabled on my account?", replies.Reply{}},
	{"other/future", "I will enable it tomorrow", replies.Reply{}},
	{"other/future done", "I'll have it done by Friday", replies.Reply{}},
	{"other/working on it", "Working on setting up 2FA", replies.Reply{}},
	{"other/need to", "MFA needs to be enabled by the deadline", replies.Reply{}},
	{"other/once enabled", "I will write done once enabled", replies.Reply{}},
	{"other/doesn't work", "I enabled MFA but it doesn't work", replies.Reply{}},
	{"other/locked out", "Enabled 2FA and now I'm locked out", replies.Reply{}},
	{"other/done with the project", "I'm done with this project", replies.Reply{}},
	{"other/never enabled", "Never enabled it, never will", replies.Reply{}},
	{"other/thanks only", "Thanks for the heads-up!", replies.Reply{}},
	{"other/empty", "", replies.Reply{}},
	{"other/whitespace", " \n\t\n", replies.Reply{}},
	{"other/wall of text", "done " + strings.Repeat("blah ", 2000), replies.Reply{}},
	{"other/emoji only", "👍", replies.Reply{}},
	{"other/why", "Why was I added to this task?", replies.Reply{}},
	{"other/don't remove me", "don't remove me", replies.Reply{}},
	// Saying one needs the access is a keep; in an MFA audit the bot
	// treats a keep like any other text (a human reads it).
	{"keep/please do not remove me", "Please do not remove me, I need this access for my work", replies.Reply{Kind: replies.KindKeep}},
	{"keep/bare", "keep", replies.Reply{Kind: replies.KindKeep}},
	{"keep/still need it", "Yes, I still need it.", replies.Reply{Kind: replies.KindKeep}},
	{"keep/still here", "I am still here!", replies.Reply{Kind: replies.KindKeep}},
	{"keep/still using", "still using this daily for security triage", replies.Reply{Kind: replies.KindKeep}},
	{"keep/keep my access", "please keep my access", replies.Reply{Kind: replies.KindKeep}},
	{"keep/not anymore", "I don't need it anymore", replies.Reply{Kind: replies.KindRemoveMe}},
	{"keep/no longer need is remove me", "I no longer need this access", replies.Reply{Kind: replies.KindRemoveMe}},
	{"keep/negated", "I do not still need it", replies.Reply{}},
	{"keep/question", "do I still need this?", replies.Reply{}},
	{"other/why remove", "Why did you remove me?", replies.Reply{}},
	{"other/remove and restore", "Remove me from acl*foo and add me back to acl*bar", replies.Reply{}},
	{"other/no exemption needed", "I don't need an exemption", replies.Reply{}},
	{"other/what is exemption", "What is an exemption?", replies.Reply{}},
	{"other/don't add me back", "Please don't add me back", replies.Reply{}},

	// Quotes, code blocks and literals.
	{"quote/only quoted done", "> done", replies.Reply{}},
	{"quote/inline code", "The task says to write `done` once enabled", replies.Reply{}},
	{"quote/phabricator quote header", "> In T123#456, @auditbot wrote:\n> Write `done` when finished.\n\nWhat does this mean?", replies.Reply{}},
	{"quote/fenced block", "```\ndone\n!approve\n```\nwhat is this?", replies.Reply{}},
	{"quote/fence with lang", "```lang=text\nI have enabled 2FA\n```", replies.Reply{}},
	{"quote/one-line fence", "```done```", replies.Reply{}},
	{"quote/indented code", "Example from the docs:\n\n  done\n  enabled", replies.Reply{}},
	{"quote/indented code then text", "Docs say:\n\n  write done\n\nDone!", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"quote/literal inline", "The bot wants %%%done%%% apparently", replies.Reply{}},
	{"quote/literal block", "%%%\n!approve\ndone\n%%%\nhuh?", replies.Reply{}},
	{"quote/literal then done", "%%%!approve%%% done", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"quote/unterminated literal", "see %%%done", replies.Reply{}},

	// Remove me.
	{"remove/remove me", "remove me", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/please remove my access", "Please remove my access.", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/no longer need access", "I no longer need access", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/don't need this anymore", "I don't need this anymore", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/drop me", "you can drop me from the group", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/take me off", "take me off WMF-NDA", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/beats claim", "done with this project, remove me", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/question form", "Could you please remove me from acl*security?", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/happy to be removed", "Happy to be removed, I changed teams.", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/don't use anymore", "I don't use this account anymore, remove it", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/no longer work", "I no longer work on this project", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/beats claim in same comment", "please remove me, i enabled 2fa", replies.Reply{Kind: replies.KindRemoveMe}},
	{"remove/feel free", "Feel free to remove me 🙂", replies.Reply{Kind: replies.KindRemoveMe}},

	// Restore requests.
	{"restore-request/restore my access", "I enabled MFA, please restore my access", replies.Reply{Kind: replies.KindRestoreRequest}},
	{"restore-request/add me back question", "Can you add me back to acl*security?", replies.Reply{Kind: replies.KindRestoreRequest}},
	{"restore-request/re-add", "please re-add me", replies.Reply{Kind: replies.KindRestoreRequest}},
	{"restore-request/readd", "2FA done, readd me pls", replies.Reply{Kind: replies.KindRestoreRequest}},
	{"restore-request/access back", "Could I get my access back? TOTP is set up now.", replies.Reply{Kind: replies.KindRestoreRequest}},
	{"restore-request/add again", "Please add me to the group again", replies.Reply{Kind: replies.KindRestoreRequest}},
	{"restore-request/not re-added past", "You re-added me, thanks! Done.", replies.Reply{Kind: replies.KindClaimCompliance}},

	// Exemptions.
	{"exemption/colon", "exemption: I only use a shared kiosk machine",
		replies.Reply{Kind: replies.KindExemption, Reason: "I only use a shared kiosk machine"}},
	{"exemption/because", "Hi bot, I need an exemption because my phone was stolen. Thanks!",
		replies.Reply{Kind: replies.KindExemption, Reason: "my phone was stolen"}},
	{"exemption/dash", "Requesting an exemption - hardware key arrives next week",
		replies.Reply{Kind: replies.KindExemption, Reason: "hardware key arrives next week"}},
	{"exemption/reason before", "My phone broke; I need an exemption.",
		replies.Reply{Kind: replies.KindExemption, Reason: "My phone broke; I need an exemption."}},
	{"exemption/local negation far away", "I don't have a phone yet so I need an exemption for a month",
		replies.Reply{Kind: replies.KindExemption, Reason: "a month"}},
	{"exemption/on leave iso", "on leave until 2027-03-15",
		replies.Reply{Kind: replies.KindExemption, Reason: "on leave", Until: day(2027, 3, 15)}},
	{"exemption/on parental leave", "I'm on parental leave until March 15, 2027 🍼",
		replies.Reply{Kind: replies.KindExemption, Reason: "on parental leave", Until: day(2027, 3, 15)}},
	{"exemption/day month year", "Out of office till 15 March 2027.",
		replies.Reply{Kind: replies.KindExemption, Reason: "out of office", Until: day(2027, 3, 15)}},
	{"exemption/abbreviated month", "On leave until Sept 3rd, 2027",
		replies.Reply{Kind: replies.KindExemption, Reason: "on leave", Until: day(2027, 9, 3)}},
	{"exemption/unparseable date", "I'm on leave until next month",
		replies.Reply{Kind: replies.KindExemption, Reason: "on leave"}},
	{"exemption/impossible date", "on leave until 2027-02-30",
		replies.Reply{Kind: replies.KindExemption, Reason: "on leave"}},
	{"exemption/ambiguous numeric date", "on leave until 03/04/2027",
		replies.Reply{Kind: replies.KindExemption, Reason: "on leave"}},
	{"exemption/explicit with date", "Exemption request: medical leave until 2027-01-10",
		replies.Reply{Kind: replies.KindExemption, Reason: "medical leave until 2027-01-10", Until: day(2027, 1, 10)}},
	{"exemption/beats claim", "I need an exemption because my token is done for",
		replies.Reply{Kind: replies.KindExemption, Reason: "my token is done for"}},
	{"exemption/question request", "Can I get an exemption since I'm a bot account?",
		replies.Reply{Kind: replies.KindExemption, Reason: "I'm a bot account?"}},

	// Commands.
	{"cmd/approve batch", "!approve", replies.Reply{Kind: replies.KindApprove}},
	{"cmd/approve batch with punctuation", "!approve — thanks all", replies.Reply{Kind: replies.KindApprove}},
	{"cmd/approve user", "!approve @alice", replies.Reply{Kind: replies.KindApprove, Target: "alice"}},
	{"cmd/approve upper case", "!APPROVE @Alice.B", replies.Reply{Kind: replies.KindApprove, Target: "Alice.B"}},
	{"cmd/approve user full stop", "!approve @bob_smith.", replies.Reply{Kind: replies.KindApprove, Target: "bob_smith"}},
	{"cmd/approve bold", "**!approve @alice**", replies.Reply{Kind: replies.KindApprove, Target: "alice"}},
	{"cmd/approve bare word ambiguous", "!approve alice", replies.Reply{}},
	{"cmd/approve two targets", "!approve @alice @bob", replies.Reply{}},
	{"cmd/approve two targets with and", "!approve @alice and @bob", replies.Reply{}},
	{"cmd/approve bad target", "!approve @", replies.Reply{}},
	{"cmd/approve non-ascii target", "!approve @josé", replies.Reply{}},
	{"cmd/deny batch", "!deny not enough justification",
		replies.Reply{Kind: replies.KindDeny, Reason: "not enough justification"}},
	{"cmd/deny user", "!deny @alice: a phone is available, please set up TOTP",
		replies.Reply{Kind: replies.KindDeny, Target: "alice", Reason: "a phone is available, please set up TOTP"}},
	{"cmd/deny reason on next lines", "!deny @alice\nThe office has spare keys.\nAsk IT.\n\nunrelated",
		replies.Reply{Kind: replies.KindDeny, Target: "alice", Reason: "The office has spare keys. Ask IT."}},
	{"cmd/deny without reason", "!deny", replies.Reply{Kind: replies.KindDeny}},
	{"cmd/restore user", "!restore @carol", replies.Reply{Kind: replies.KindRestore, Target: "carol"}},
	{"cmd/keep user", "!keep @carol", replies.Reply{Kind: replies.KindKeepUser, Target: "carol"}},
	{"cmd/keep without user", "!keep", replies.Reply{}},
	{"cmd/keep two users", "!keep @carol @dave", replies.Reply{}},
	{"cmd/restore without user", "!restore", replies.Reply{}},
	{"cmd/restore without user but prose", "!restore please\ndone", replies.Reply{}},
	{"cmd/precedence over free text", "Looks fine to me, remove me from CC.\n!approve @dave", replies.Reply{Kind: replies.KindApprove, Target: "dave"}},
	{"cmd/first command wins", "!restore @erin\n!deny @erin nope", replies.Reply{Kind: replies.KindRestore, Target: "erin"}},
	{"cmd/quoted command ignored", "> !approve\n\ndone", replies.Reply{Kind: replies.KindClaimCompliance}},
	{"cmd/inline code command ignored", "The task says to comment `!approve`.", replies.Reply{}},
	{"cmd/not at line start", "please !approve @alice", replies.Reply{}},
	{"cmd/approved is prose", "!approved already?", replies.Reply{}},
	{"cmd/leading spaces", " !approve @alice", replies.Reply{Kind: replies.KindApprove, Target: "alice"}},
	{"fix/label", "!fix P3", replies.Reply{Kind: replies.KindFix, Target: "P3"}},
	{"fix/lower case and bold", "**!fix p12**", replies.Reply{Kind: replies.KindFix, Target: "P12"}},
	{"fix/after prose", "Looks bad.\n!fix P1.", replies.Reply{Kind: replies.KindFix, Target: "P1"}},
	{"fix/bare is malformed", "!fix", replies.Reply{}},
	{"fix/two labels is malformed", "!fix P1 P2", replies.Reply{}},
	{"fix/a user is malformed", "!fix @alice", replies.Reply{}},
	{"fix/P0 is malformed", "!fix P0", replies.Reply{}},
	{"fix/fixing is prose", "!fixing P1 tomorrow?", replies.Reply{}},
}

func TestParse(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range parseCases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			got := replies.Parse(tc.in)
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(replies.Reply{}, "Text")); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"quotes and code removed", "> quoted `done`\n\n```\ncode\n```\nI have enabled 2FA\n", "I have enabled 2FA"},
		{"inline code blanked", "write `done` here", "write   here"},
		{"command line only", "Some prose\n  !approve @alice  \nmore", "!approve @alice"},
		{"deny continuation", "!deny @bob\nno good reason\n\nbye", "!deny @bob\nno good reason"},
		{"empty", "> only a quote", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := replies.Parse(tc.in).Text; got != tc.want {
				t.Errorf("Parse(%q).Text = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestReasonCapped(t *testing.T) {
	long := strings.Repeat("é", 2*replies.MaxReasonRunes)
	for _, in := range []string{"exemption: " + long, "!deny " + long} {
		got := replies.Parse(in).Reason
		if n := len([]rune(got)); n != replies.MaxReasonRunes {
			t.Errorf("Parse(%.20q...).Reason has %d runes, want %d", in, n, replies.MaxReasonRunes)
		}
	}
}

func TestKindString(t *testing.T) {
	want := map[replies.Kind]string{
		replies.KindOther:           "other",
		replies.KindClaimCompliance: "claim-compliance",
		replies.KindRemoveMe:        "remove-me",
		replies.KindExemption:       "exemption",
		replies.KindRestoreRequest:  "restore-request",
		replies.KindApprove:         "approve",
		replies.KindDeny:            "deny",
		replies.KindRestore:         "restore",
		replies.KindFix:             "fix",
		replies.KindKeep:            "keep",
		replies.KindKeepUser:        "keep-user",
		replies.Kind(42):            "Kind(42)",
		replies.Kind(-1):            "Kind(-1)",
	}
	for k, s := range want {
		if got := k.String(); got != s {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, s)
		}
	}
}
