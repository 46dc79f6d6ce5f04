package campaigns

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Risk is how dangerous membership of a group is, on MediaWiki's four
// OAuth-grant risk levels. Levels compare with < and >: RiskNotRisky <
// RiskVandalism < RiskSecurity < RiskInternal.
//
// The zero Risk is not a level: it means "unset" and is treated like the
// riskiest level everywhere a decision depends on it (RequiredApprovals,
// MayAutoApprove), so forgetting to set a risk can never loosen a check.
type Risk int

// The risk levels, from least to most risky.
const (
	RiskNotRisky  Risk = iota + 1 // membership grants nothing sensitive
	RiskVandalism                 // a member could vandalise content
	RiskSecurity                  // a member sees private or security data
	RiskInternal                  // a member can change how the site itself works
)

var riskNames = [...]string{
	RiskNotRisky:  "not-risky",
	RiskVandalism: "vandalism",
	RiskSecurity:  "security",
	RiskInternal:  "internal",
}

// Risks returns every risk level, from least to most risky.
func Risks() []Risk {
	return []Risk{RiskNotRisky, RiskVandalism, RiskSecurity, RiskInternal}
}

func riskNameList() []string {
	names := make([]string, 0, len(riskNames)-1)
	for _, r := range Risks() {
		names = append(names, r.String())
	}
	return names
}

// ParseRisk parses a risk level name: not-risky, vandalism, security or
// internal, in any case.
func ParseRisk(s string) (Risk, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for _, r := range Risks() {
		if name == riskNames[r] {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown risk level %q (want %s)", s, oneOf(riskNameList()))
}

// Valid reports whether r is one of the four risk levels.
func (r Risk) Valid() bool { return r >= RiskNotRisky && r <= RiskInternal }

// String returns the level's name as written in config files, such as
// "security".
func (r Risk) String() string {
	if !r.Valid() {
		return "Risk(" + strconv.Itoa(int(r)) + ")"
	}
	return riskNames[r]
}

// Label returns the name with its place on the scale for people to read,
// such as "internal (highest)".
func (r Risk) Label() string {
	switch r {
	case RiskNotRisky:
		return r.String() + " (lowest)"
	case RiskInternal:
		return r.String() + " (highest)"
	}
	return r.String()
}

// RequiredApprovals returns how many distinct approvers must approve
// removing a member from a group of this risk: 1 for not-risky and
// vandalism, 2 for security and internal (and for an invalid Risk).
func (r Risk) RequiredApprovals() int {
	switch r {
	case RiskNotRisky, RiskVandalism:
		return 1
	}
	return 2
}

// MayAutoApprove reports whether removals from a group of this risk may go
// ahead without an approver (when the campaign allows it). Only not-risky
// groups qualify.
func (r Risk) MayAutoApprove() bool { return r == RiskNotRisky }

// MarshalText encodes the level's name; an invalid Risk is an error.
func (r Risk) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("campaigns: cannot encode invalid risk level %d", int(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText decodes a level name with ParseRisk.
func (r *Risk) UnmarshalText(text []byte) error {
	v, err := ParseRisk(string(text))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalYAML encodes the level's name; an invalid Risk is an error.
func (r Risk) MarshalYAML() (any, error) {
	b, err := r.MarshalText()
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// UnmarshalYAML decodes a level name with ParseRisk, naming the line on
// error.
func (r *Risk) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return fmt.Errorf("line %d: want a risk level (%s), got %s", n.Line, oneOf(riskNameList()), describe(n))
	}
	if err := r.UnmarshalText([]byte(n.Value)); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}
