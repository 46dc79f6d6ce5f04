// Package replies classifies a comment left on an audit task: an affected
// user's free-text answer ("done", "remove me", "exemption: ...") or an
// approver's command ("!approve @alice").
//
// Parse is a pure function of the comment text. It does not know who wrote
// the comment; the caller decides whether the author may give commands or
// speak for the task's user. When in doubt Parse answers KindOther, which
// means "a human should read this": a missed claim costs a reminder, while a
// wrong removal or approval costs someone their access.
package replies

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is what a comment asks for.
type Kind int

// The kinds of reply, from affected users (free text) and approvers
// (commands).
const (
	// KindOther needs a human: a question, a complaint, a malformed command.
	KindOther Kind = iota
	// KindClaimCompliance says multi-factor auth is now enabled.
	KindClaimCompliance
	// KindRemoveMe asks to be taken out of the group.
	KindRemoveMe
	// KindExemption asks for an exemption; Reply.Reason says why, and
	// Reply.Until says until when if a date was given.
	KindExemption
	// KindRestoreRequest asks to be added back to the group.
	KindRestoreRequest
	// KindApprove is "!approve" (the whole batch) or "!approve @user".
	KindApprove
	// KindDeny is "!deny <reason>" or "!deny @user <reason>".
	KindDeny
	// KindRestore is "!restore @user".
	KindRestore
	// KindKeep says the user still needs the access: "keep", "still need
	// it", "I am still here" (reconfirmation and inactivity reviews).
	KindKeep
	// KindKeepUser is an approver's "!keep @user": the user keeps the
	// access.
	KindKeepUser
	// KindFix is an approver's "!fix P3": set the safe value of policy
	// finding P3; Target is the label.
	KindFix
)

var kindNames = [...]string{
	KindOther:           "other",
	KindClaimCompliance: "claim-compliance",
	KindRemoveMe:        "remove-me",
	KindExemption:       "exemption",
	KindRestoreRequest:  "restore-request",
	KindApprove:         "approve",
	KindDeny:            "deny",
	KindRestore:         "restore",
	KindKeep:            "keep",
	KindKeepUser:        "keep-user",
	KindFix:             "fix",
}

// String returns the kind's name as used in logs and status reports, such
// as "claim-compliance".
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MaxReasonRunes bounds Reply.Reason, which ends up in task comments and
// state records.
const MaxReasonRunes = 500

// Reply is the classification of one comment.
type Reply struct {
	Kind Kind
	// Reason is the exemption reason or the deny reason, whitespace
	// collapsed, at most MaxReasonRunes runes.
	Reason string
	// Until is the end of a requested exemption ("on leave until
	// 2027-03-15"): midnight UTC at the start of that day. Zero when no date
	// was given or it could not be read.
	Until time.Time
	// Target is the username a command is about, without the "@"; empty for
	// batch-level "!approve" and "!deny" and for free text.
	Target string
	// Text is the part of the comment that was classified, with quotes,
	// code and literal blocks removed: the command line for commands, the
	// remaining text otherwise. For logs and status reports.
	Text string
}

// Parse classifies a comment. Quoted lines, code blocks and %%%literals%%%
// are ignored, so quoting the task's instructions triggers nothing. A line
// starting with !approve, !deny or !restore is a command and takes
// precedence over any free text; only the first such line counts.
func Parse(text string) Reply {
	text = strings.ToValidUTF8(text, "\uFFFD")
	lines := meaningfulLines(text)
	if r, ok := parseCommand(lines); ok {
		return r
	}
	text = strings.TrimSpace(strings.Join(lines, "\n"))
	if len(text) > maxFreeText {
		return Reply{Kind: KindOther, Text: text}
	}
	return classify(text)
}

// maxFreeText bounds the free text Parse classifies. Replies to the bot are
// a few lines; a longer comment (a pasted log, an essay) deserves a human
// reader, and the rule table's large regexps cost time linear in both the
// text and their size.
const maxFreeText = 8 << 10

// cleanReason collapses whitespace, drops leading separators and a trailing
// sign-off ("thanks!"), and caps the result at MaxReasonRunes.
func cleanReason(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.TrimLeft(s, " :;,.-–—")
	for {
		t := signOff.ReplaceAllString(s, "")
		if t == s {
			break
		}
		s = t
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= MaxReasonRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxReasonRunes {
			return strings.TrimSpace(s[:i])
		}
		n++
	}
	return s
}
