package replies

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// comment is free text prepared for the rule table.
type comment struct {
	src     string   // the meaningful text as written
	norm    string   // the normalized copy the rules match
	off     []int    // off[i] is the byte offset in src of norm[i]; off[len(norm)] == len(src)
	clauses []clause // norm split into clauses
}

// clause is a stretch of norm between sentence punctuation or conjunctions
// like "but", so that "not sure it worked, but done" keeps its "done" and
// "I enabled it. Is that enough?" keeps its claim.
type clause struct {
	text     string
	start    int  // offset of text in norm
	question bool // ended with "?"
}

// isQuestion reports whether the clause asks rather than states.
func (c clause) isQuestion() bool {
	return c.question || questionStart.MatchString(c.text)
}

// clauseBreak separates clauses.
var clauseBreak = regexp.MustCompile(`[.!?;,:\n]+|\b(?:but|however|although|though|except)\b`)

func newComment(src string) *comment {
	c := &comment{src: src}
	c.norm, c.off = normalize(src)
	start := 0
	add := func(end int, question bool) {
		if strings.TrimSpace(c.norm[start:end]) != "" {
			c.clauses = append(c.clauses, clause{text: c.norm[start:end], start: start, question: question})
		}
	}
	for _, loc := range clauseBreak.FindAllStringIndex(c.norm, -1) {
		add(loc[0], strings.Contains(c.norm[loc[0]:loc[1]], "?"))
		start = loc[1]
	}
	add(len(c.norm), false)
	return c
}

// srcOffset maps an offset in norm to the offset in src.
func (c *comment) srcOffset(i int) int { return c.off[i] }

// normalize lower-cases src and folds it to what the rules expect: letters,
// digits, apostrophes, hyphens, sentence punctuation and newlines; every
// other rune (emoji, Remarkup markup, symbols) becomes a space. It maps one
// rune to one rune so offsets can be mapped back to src for reasons.
func normalize(src string) (string, []int) {
	var b strings.Builder
	b.Grow(len(src))
	off := make([]int, 0, len(src)+1)
	for i, r := range src {
		r = normRune(r)
		b.WriteRune(r)
		for range utf8.RuneLen(r) {
			off = append(off, i)
		}
	}
	off = append(off, len(src))
	return b.String(), off
}

// normRune maps one rune of a comment to its normalized form.
func normRune(r rune) rune {
	switch r {
	case '\n', '?', '.', '!', ';', ',', ':', '\'', '-':
		return r
	case '’', '‘', 'ʼ', '´':
		return '\''
	case '‐', '–', '—':
		return '-'
	case '…':
		return '.'
	case '？':
		return '?'
	}
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return unicode.ToLower(r)
	}
	return ' '
}

// signOff is a closing courtesy at the end of a reason: ". Thanks!",
// ", cheers 🙂".
var signOff = regexp.MustCompile(`(?i)(?:^|[.!?,;]\s*)(?:many\s+thanks|thanks?(?:\s+(?:you|a\s+lot|so\s+much|in\s+advance))*|` +
	`thank\s+you(?:\s+(?:very|so)\s+much)?|thx|ty|cheers|regards|best|br|(?:kind|best)\s+regards)` +
	`[\s!.,:;)\p{So}\p{Sk}\p{M}\x{200d}]*$`)
