package replies

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// commandLine matches an approver's command at the start of a line. The \b
// keeps "!approved" and "!denying" out: those are prose, not commands.
var commandLine = regexp.MustCompile(`(?i)^!(approve|deny|restore|keep|fix)\b(.*)$`)

// fixTarget is the one argument of "!fix": a policy finding's label, such
// as P3, and nothing else on the line.
var fixTarget = regexp.MustCompile(`(?i)^[ \t:]*(p[1-9][0-9]{0,5})[ \t.!]*$`)

// formatting is what Remarkup wraps around text for emphasis: **bold**,
// //italic//, __underline__, ~~strike~~.
const formatting = "*/_~"

// parseCommand returns the first command among lines and reports whether
// there was one. A malformed command is still the command (as KindOther):
// an approver who typed "!restore" without a user wants a human to notice,
// not the free text below to be read as a user's reply.
func parseCommand(lines []string) (Reply, bool) {
	for i, line := range lines {
		line = unwrapFormatting(line)
		m := commandLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		return command(strings.ToLower(m[1]), m[2], line, lines[i+1:]), true
	}
	return Reply{}, false
}

// command builds the Reply for one command line: verb is "approve", "deny"
// or "restore", args what follows it, following the lines after it.
func command(verb, args, line string, following []string) Reply {
	r := Reply{Kind: KindOther, Text: line}
	if verb == "fix" {
		// Always about one policy finding, by its label: "!fix P3".
		if m := fixTarget.FindStringSubmatch(args); m != nil {
			r.Kind, r.Target = KindFix, strings.ToUpper(m[1])
		}
		return r
	}
	target, rest, ok := splitTarget(args)
	if !ok {
		return r
	}
	switch verb {
	case "approve":
		// "!approve alice" most likely means @alice; reading it as the
		// whole batch would approve far more than intended.
		if target == "" && startsWithWord(rest) {
			return r
		}
		r.Kind, r.Target = KindApprove, target
	case "deny":
		r.Kind, r.Target = KindDeny, target
		r.Reason = cleanReason(rest)
		if r.Reason == "" {
			// "!deny @alice" with the reason on the next lines.
			more := continuation(following)
			r.Reason = cleanReason(strings.Join(more, " "))
			if len(more) > 0 {
				r.Text = strings.Join(append([]string{line}, more...), "\n")
			}
		}
	case "restore":
		if target == "" {
			return r
		}
		r.Kind, r.Target = KindRestore, target
	case "keep":
		// Always about one user: a bare "!keep" keeps nobody.
		if target == "" {
			return r
		}
		r.Kind, r.Target = KindKeepUser, target
	}
	return r
}

// splitTarget splits "@alice because ..." into "alice" and " because ...".
// Without a leading @mention it returns an empty target and args unchanged.
// It reports false for a mention that is not a plain username ("@",
// "@alicé") and for several mentions ("@alice @bob"), which Reply cannot
// represent: acting on only the first would be a silent partial action.
func splitTarget(args string) (target, rest string, ok bool) {
	s := strings.TrimLeft(args, " \t:,")
	s, found := strings.CutPrefix(s, "@")
	if !found {
		return "", args, true
	}
	n := strings.IndexFunc(s, func(r rune) bool { return !isUsernameRune(r) })
	if n < 0 {
		n = len(s)
	}
	// Phabricator usernames cannot end in a dot; this one ends a sentence.
	name := strings.TrimRight(s[:n], ".")
	rest = s[len(name):]
	if name == "" {
		return "", "", false
	}
	if r, _ := utf8.DecodeRuneInString(rest); unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
		return "", "", false
	}
	after := strings.TrimLeft(rest, " \t,&+")
	if len(after) >= 4 && strings.EqualFold(after[:4], "and ") {
		after = strings.TrimLeft(after[4:], " \t")
	}
	if strings.HasPrefix(after, "@") {
		return "", "", false
	}
	return name, rest, true
}

// isUsernameRune reports whether r may appear in a Phabricator username.
func isUsernameRune(r rune) bool {
	return r < utf8.RuneSelf && (r == '.' || r == '_' || r == '-' ||
		'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
}

// startsWithWord reports whether s, after spaces, starts with a letter or
// digit (rather than punctuation or an emoji).
func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(strings.TrimLeft(s, " \t"))
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// continuation returns the non-blank lines right after a command, up to a
// blank line or another command.
func continuation(lines []string) []string {
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || commandLine.MatchString(unwrapFormatting(l)) {
			break
		}
		out = append(out, l)
	}
	return out
}

// unwrapFormatting trims line and removes Remarkup emphasis wrapped around
// it, so "**!approve @alice**" reads as "!approve @alice". A trailing marker
// is removed only when it mirrors the leading one: usernames may end in "_".
func unwrapFormatting(line string) string {
	line = strings.TrimSpace(line)
	body := strings.TrimLeft(line, formatting)
	prefix := line[:len(line)-len(body)]
	if prefix == "" {
		return line
	}
	return strings.TrimSpace(strings.TrimSuffix(body, reverse(prefix)))
}

// reverse returns s backwards; s is ASCII.
func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}
