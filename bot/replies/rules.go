package replies

import (
	"regexp"
	"strings"
)

// Free text is matched clause by clause on a normalized copy of the comment
// (see normalize): lower case, curly apostrophes straightened, emoji and
// Remarkup markup turned into spaces. Each rule lists phrasings of one
// request; vetoes then drop a hit that is negated ("don't remove me"),
// hypothetical ("once enabled") or asked ("done?").
//
// The rules are tried in order and the first hit wins, so their order is the
// precedence between kinds:
//
//  1. remove-me: leaving beats claiming ("done with this project, remove
//     me");
//  2. restore-request: "I enabled it, please add me back" wants an action,
//     not only a check;
//  3. exemption, explicit before leave, since an explicit reason is better
//     than "on leave";
//  4. keep ("still need it", "still here"), which only counts where a
//     reply can keep access;
//  5. claim-compliance, the most common and the cheapest to get wrong,
//     provided the caller checks the claim against the user's MFA status
//     in Phabricator before acting on it.
//
// A comment asking both to be removed and to be restored is contradictory
// and goes to a human.

// Building blocks for the patterns below.
const (
	// negation covers "not", "never", "no", contractions with and without
	// the apostrophe, and "unable".
	negation = `not|no|never|nope|cannot|unable|\w+n't|` +
		`dont|doesnt|didnt|havent|hasnt|hadnt|isnt|arent|wasnt|werent|wont|cant|couldnt|wouldnt|shouldnt`

	// mfaTerm names multi-factor auth or a factor, the way people write it.
	mfaTerm = `(?:mfa|2fa|2-fa|two[\s-]?factor|2[\s-]?factor|multi[\s-]?factor|totp|otp|authenticator|` +
		`security\s+keys?|yubi\s?keys?|hardware\s+(?:keys?|tokens?)|webauthn|u2f|fido2?|passkeys?|` +
		`second\s+factor|auth(?:entication)?\s+factors?|two[\s-]?step|2[\s-]?step|2sv)`

	// mfaState says a factor is in place, in past or state form; "enable"
	// (imperative or future) is deliberately absent.
	mfaState = `(?:enabled|activated|configured|set\s+up|set\s+it\s+up|added|registered|enrolled|installed|` +
		`turned\s+(?:it\s+)?on|switched\s+(?:it\s+)?on|(?:is|are|'s|now)\s+(?:now\s+)?(?:on|active|enabled|working|live|set\s+up)|` +
		`in\s+place|done|complete|completed|ready|working)`
)

// within3 turns an alternation into a veto for the text before a hit: one of
// the words, then at most three more words up to the hit. Looking only
// nearby keeps "I don't have a phone yet so I need an exemption" an
// exemption, while "I don't think you should remove me" is still negated.
func within3(words string) *regexp.Regexp {
	return regexp.MustCompile(`\b(?:` + words + `)\s+(?:\S+\s+){0,3}$`)
}

// rule is one entry of the ordered rule table.
type rule struct {
	kind Kind
	// patterns are alternative phrasings; a match in any clause is a hit.
	patterns []*regexp.Regexp
	// vetoBefore, matched against the clause text before the hit, cancels
	// it: "please do not remove me".
	vetoBefore *regexp.Regexp
	// vetoClause, matched anywhere in the clause, cancels a hit in it: "not
	// done yet", "I'll have it done tomorrow".
	vetoClause *regexp.Regexp
	// vetoComment, matched anywhere in the comment, cancels every hit:
	// "enabled it but it doesn't work" is a support request.
	vetoComment *regexp.Regexp
	// questions reports whether a hit inside a question counts: "can you add
	// me back?" is a request, "done?" is not a claim.
	questions bool
	// reason derives Reply.Reason from a hit; nil when the kind has none.
	reason func(c *comment, h hit) string
}

var rules = []rule{
	{
		kind: KindRemoveMe,
		patterns: compile(
			`\bremove\s+(?:me|myself)\b`,
			`\bremove\s+my\s+(?:access|account|membership|permissions?|rights|name|user)\b`,
			// "take me off WMF-NDA", "drop me from the group", "kick me out".
			`\b(?:take|drop|kick)\s+me\s+(?:off|out|from)\b`,
			`\b(?:drop|kick)\s+me\s*$`,
			`\bno\s+longer\s+(?:need|require|use)s?\s+(?:access|it|this|that|membership|the\s+\w+|my\s+\w+|to\s+be)\b`,
			`\b(?:don't|dont|do\s+not|doesn't|doesnt|does\s+not)\s+(?:need|use)\s+(?:\S+\s+){0,4}?(?:anymore|any\s+more|any\s+longer)\b`,
			// People who left: "I no longer work on this", "no longer involved".
			`\bno\s+longer\s+(?:work|working|involved|active)\b`,
			`\b(?:don't|dont|do\s+not)\s+need\s+(?:the\s+|this\s+|my\s+|any\s+)?access\b`,
			`\b(?:happy|fine|ok|okay)\s+(?:to\s+be|being)\s+removed\b`,
			`\bto\s+leave\s+(?:the|this)\s+(?:group|project|team)\b`,
		),
		// "don't remove me", "why did you remove me", "if you remove me".
		vetoBefore: within3(negation + `|no\s+need\s+to|why|did\s+you|have\s+you|if|before|when|whether`),
		// "I don't need an exemption anymore" is about the exemption.
		vetoClause: regexp.MustCompile(`\bexempt`),
		questions:  true, // "could you remove me?"
	},
	{
		kind: KindRestoreRequest,
		patterns: compile(
			`\b(?:add|put|let|bring|take)\s+me\s+back\b`,
			`\bre-?\s?add\s+me\b`, // re-add, readd, re add; not "re-added me"
			`\badd\s+me\s+(?:\S+\s+){0,4}?again\b`,
			`\bbe\s+(?:re-?\s?added|added\s+back|put\s+back|restored|reinstated)\b`,
			`\brestore\s+(?:me|my|access|membership|the\s+access)\b`,
			`\bplease\s+restore\b|\brestore\s+please\b`,
			`\breinstate\s+(?:me|my)\b`,
			`\b(?:give|get|grant|have|want|need|like)\s+(?:me\s+)?(?:my\s+|the\s+)?access\s+(?:back|restored|reinstated)\b`,
			`\b(?:give|get)\s+(?:me\s+)?back\s+(?:my\s+|the\s+)?access\b`,
			`\bregain\s+access\b`,
		),
		vetoBefore: within3(negation + `|why|did\s+you|have\s+you|if|before|whether`),
		questions:  true, // "can you add me back?"
	},
	{
		// Explicit requests: "exemption: ...", "I need an exemption because
		// ...", "please exempt me".
		kind:     KindExemption,
		patterns: compile(`\bexempt(?:ion|ions|ed)?\b`),
		// "I don't need an exemption", "what is an exemption", "I was
		// exempted last year".
		vetoBefore: within3(negation + `|how|what|where|why|do\s+i\s+need|is\s+there|was|were|been|already`),
		questions:  true, // "can I get an exemption because ...?"
		reason:     explicitReason,
	},
	{
		// Absence: "on leave until 2027-03-15", "I'm on parental leave".
		// The leave itself is the reason.
		kind: KindExemption,
		patterns: compile(
			`\b(?P<reason>on\s+(?:\w+\s+)?(?:leave|vacation|holidays?|sabbatical|pto)|out\s+of\s+(?:the\s+)?office|ooo|away|offline|unavailable)\s+(?:until|till|til|through|thru)\b`,
			`\b(?:i'm|im|i\s+am|i'll\s+be|i\s+will\s+be|currently|will\s+be)\s+(?:\w+\s+)?(?P<reason>on\s+(?:\w+\s+)?(?:leave|vacation|sabbatical))\b`,
		),
		// "I was on leave until Monday, enabled now."
		vetoBefore: within3(`was|were|been|back|returned|not|\w+n't`),
		reason:     leaveReason,
	},
	{
		// Still needing the access: "keep", "still need it", "I'm still
		// here", "yes, I still use it". Read only where a reply can keep
		// access (reconfirmation, inactivity); elsewhere the bot treats it
		// like any other text.
		kind: KindKeep,
		patterns: compile(
			`^\s*(?:please\s+)?keep(?:\s+(?:me|it|my\s+access|access))?\s*[.!]*\s*$`,
			`\bkeep\s+(?:my\s+)?(?:access|membership)\b`,
			`\bstill\s+(?:need|needs|require|use|using|work\s+on|working\s+on)\b`,
			`\bstill\s+(?:here|around|active|with\s+(?:you|the\s+project))\b`,
			`\b(?:i|we)\s+(?:do\s+)?need\s+(?:this|the|my|that)\s+access\b`,
		),
		vetoBefore: within3(negation + `|if|whether|why|no\s+longer`),
		vetoClause: regexp.MustCompile(`\b(?:anymore|any\s+more|any\s+longer)\b`),
	},
	{
		// Bare completion words: "done", "Done!", "fixed", "all set".
		kind: KindClaimCompliance,
		patterns: compile(
			`\b(?:done|fixed|completed|finished|enabled|activated|configured|resolved|all\s+set(?:\s+up)?|sorted(?:\s+out)?|taken\s+care\s+of)\b`,
			// The object is the factor the task asked for: "I set it up".
			`\b(?:set\s+(?:it|this|that)\s+up|(?:turned|switched)\s+(?:it|this|that)\s+on)\b`,
		),
		vetoClause: regexp.MustCompile(`\b(?:` + negation + `|yet)\b|` + intent +
			// "done with this project" is about leaving, not MFA.
			`|\bdone\s+with\s+(?:this|that|it|you|them|everything|the\s+\w+|my\s+\w+|\w+\s+project)\b`),
		vetoComment: trouble,
	},
	{
		// A factor named together with a state: "I've enabled 2FA", "MFA is
		// on now", "TOTP configured", "I have added a security key".
		kind: KindClaimCompliance,
		patterns: compile(
			`\b`+mfaState+`\b.*\b`+mfaTerm+`\b`,
			`\b`+mfaTerm+`\b.*\b`+mfaState+`\b`,
			`\b(?:have|got|using|use)\s+(?:(?:a|an|my|the|now|it|also)\s+)?`+mfaTerm+`\b`,
		),
		vetoClause:  regexp.MustCompile(`\b(?:` + negation + `|yet)\b|` + intent),
		vetoComment: trouble,
	},
}

// intent marks a clause as future, conditional or wishful: "I will enable
// it", "once enabled", "need to set up MFA", "working on it", "how do I".
const intent = `\b(?:will|shall|'ll|going\s+to|gonna|about\s+to|plan(?:ning)?\s+to|wants?\s+to|wanted\s+to|would\s+like\s+to|` +
	`needs?\s+to|have\s+to|has\s+to|must|try(?:ing)?\s+to|tried\s+to|attempt(?:ing|ed)?\s+to|working\s+on|in\s+progress|` +
	`soon|later|tomorrow|tonight|next\s+week|once|when|whenever|if|should\s+i|how)\b`

// trouble marks a comment as a support request even when it also claims
// compliance: "enabled it but it doesn't work", "I'm locked out".
var trouble = regexp.MustCompile(`\b(?:doesn't|does\s+not|doesnt|didn't|did\s+not|didnt|won't|wont|isn't|isnt|not)\s+work(?:ing|s)?\b|` +
	`\bhaving\s+(?:trouble|problems?|issues?)\b|\b(?:an|the|this)\s+error\b|\berror\s+message\b|\blocked\s+out\b|\blost\s+my\b|` +
	`\bneed\s+(?:some\s+)?help\b|\bhelp\s+me\b|\bplease\s+help\b|\bstuck\b|` +
	`\b(?:can't|cant|cannot|can\s+not|unable\s+to|couldn't|couldnt|failed\s+to)\b`)

// questionStart marks a clause as a question even without "?": "how do I
// enable MFA", "is it done".
var questionStart = regexp.MustCompile(`^\s*(?:how|what|where|why|when|which|who|do|does|is|are|can|could|would|will|may|am|shall)\b`)

// compile compiles a rule's patterns; they are constants, so a bad one
// panics at package initialization and fails every test.
func compile(patterns ...string) []*regexp.Regexp {
	res := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		res[i] = regexp.MustCompile(p)
	}
	return res
}

// hit is where a rule matched.
type hit struct {
	clause clause
	re     *regexp.Regexp
	loc    []int // submatch indices into clause.text
}

// find returns the rule's first hit in c that survives the vetoes.
func (r *rule) find(c *comment) (hit, bool) {
	if r.vetoComment != nil && r.vetoComment.MatchString(c.norm) {
		return hit{}, false
	}
	for _, cl := range c.clauses {
		if !r.questions && cl.isQuestion() {
			continue
		}
		if r.vetoClause != nil && r.vetoClause.MatchString(cl.text) {
			continue
		}
		for _, re := range r.patterns {
			loc := re.FindStringSubmatchIndex(cl.text)
			if loc == nil {
				continue
			}
			if r.vetoBefore != nil && r.vetoBefore.MatchString(cl.text[:loc[0]]) {
				continue
			}
			return hit{clause: cl, re: re, loc: loc}, true
		}
	}
	return hit{}, false
}

// classify reads free text (commands are handled before).
func classify(text string) Reply {
	r := Reply{Kind: KindOther, Text: text}
	c := newComment(text)
	for i := range rules {
		h, ok := rules[i].find(c)
		if !ok {
			continue
		}
		if rules[i].kind == KindRemoveMe && anyHit(c, KindRestoreRequest) {
			return r // "remove me ... add me back": contradictory.
		}
		r.Kind = rules[i].kind
		if rules[i].reason != nil {
			r.Reason = cleanReason(rules[i].reason(c, h))
		}
		if r.Kind == KindExemption {
			r.Until = findUntil(c.src)
		}
		return r
	}
	return r
}

// anyHit reports whether some rule of kind k hits c.
func anyHit(c *comment, k Kind) bool {
	for i := range rules {
		if rules[i].kind == k {
			if _, ok := rules[i].find(c); ok {
				return true
			}
		}
	}
	return false
}

// connectors precede the reason after the word "exemption": "exemption:
// ...", "exemption request - ...", "exemption because ...".
var connectors = regexp.MustCompile(`(?i)^[\s:;,.\-–—]*(?:(?:request(?:ed|ing)?|because|since|as|due\s+to|for|given\s+that|reason)\b[\s:;,.\-–—]*)*`)

// explicitReason takes the text after "exemption" as the reason, or the
// whole comment when nothing follows ("My phone broke; I need an
// exemption.").
func explicitReason(c *comment, h hit) string {
	after := c.src[c.srcOffset(h.clause.start+h.loc[1]):]
	after = connectors.ReplaceAllString(after, "")
	if cleanReason(after) == "" {
		return c.src
	}
	return after
}

// leaveReason returns the kind of absence as written, lower case: "on
// leave", "on parental leave", "out of office".
func leaveReason(_ *comment, h hit) string {
	i := h.re.SubexpIndex("reason")
	return strings.Join(strings.Fields(h.clause.text[h.loc[2*i]:h.loc[2*i+1]]), " ")
}
