package replies

import (
	"regexp"
	"strings"
)

// inlineCode matches Remarkup `monospace`, which users use to quote the
// words the task asks for ("I'll write `done` once enabled").
var inlineCode = regexp.MustCompile("`[^`]*`")

// meaningfulLines returns the lines the author wrote themselves, in order.
// It drops what the author only quotes or shows, because the task text
// itself contains trigger words ("write `done` once enabled", "`!approve`"):
//   - quoted lines ("> ..."), including Phabricator's "In T1#2, @x wrote:";
//   - ``` code blocks, closed by a line starting or ending with ```;
//   - Remarkup indented code: a paragraph indented by two spaces or a tab
//     after a blank line (or at the very start), up to the next unindented
//     line;
//   - %%%literal%%% text, inline or spanning lines;
//   - `inline code`.
//
// Dropped parts become nothing or a space; blank lines are kept, since they
// end a !deny reason that continues below the command.
func meaningfulLines(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")

	var (
		out        []string
		inFence    bool
		inLiteral  bool
		inIndented bool
		prevBlank  = true
	)
	for _, line := range strings.Split(text, "\n") {
		blank := strings.TrimSpace(line) == ""
		wasBlank := prevBlank
		prevBlank = blank

		if inLiteral {
			i := strings.Index(line, "%%%")
			if i < 0 {
				continue
			}
			inLiteral = false
			line = line[i+len("%%%"):]
		}
		trimmed := strings.TrimLeft(line, " \t")
		switch {
		case inFence:
			if strings.HasPrefix(trimmed, "```") || strings.HasSuffix(strings.TrimSpace(line), "```") {
				inFence = false
			}
			continue
		case inIndented:
			if blank || isIndented(line) {
				continue
			}
			inIndented = false
		case !blank && wasBlank && isIndented(line):
			inIndented = true
			continue
		}
		if strings.HasPrefix(trimmed, ">") {
			continue
		}
		if rest, ok := strings.CutPrefix(trimmed, "```"); ok {
			// A block opened and closed on one line is skipped like any other.
			inFence = !strings.HasSuffix(strings.TrimSpace(rest), "```")
			continue
		}
		line, inLiteral = stripLiterals(line)
		out = append(out, inlineCode.ReplaceAllString(line, " "))
	}
	return out
}

// isIndented reports whether line starts with two spaces or a tab, which
// makes it code in Remarkup when it opens a paragraph.
func isIndented(line string) bool {
	return strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "\t")
}

// stripLiterals removes %%%...%%% spans from line. When a span is left
// open, it returns the text before it and reports that a literal block
// continues on the following lines.
func stripLiterals(line string) (string, bool) {
	for {
		i := strings.Index(line, "%%%")
		if i < 0 {
			return line, false
		}
		j := strings.Index(line[i+3:], "%%%")
		if j < 0 {
			return line[:i], true
		}
		line = line[:i] + " " + line[i+3+j+3:]
	}
}
