package campaigns

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultMaxRemovalShare is the largest share of a group's current
// members that one removal batch may remove when the config does not say:
// a quarter, like peribolos' --maximum-removal-delta.
const DefaultMaxRemovalShare = 0.25

// RemovalLimit is the guard-rail on executing one removal batch: per
// group, the batch may remove at most MaxShare of the group's current
// members and at most MaxCount members. A batch over either limit is not
// executed at all; a person decides.
type RemovalLimit struct {
	// MaxShare is a fraction in (0, 1]; 1 switches the share check off.
	MaxShare float64
	// MaxCount is a number of members; 0 means no count limit.
	MaxCount int
}

// DefaultRemovalLimit is the limit when the config has no removal_limit.
func DefaultRemovalLimit() RemovalLimit { return RemovalLimit{MaxShare: DefaultMaxRemovalShare} }

// Allows reports whether removing n of a group's members members stays
// within the limit.
func (l RemovalLimit) Allows(n, members int) bool {
	if n <= 0 {
		return true
	}
	if l.MaxCount > 0 && n > l.MaxCount {
		return false
	}
	// Compare n/members > MaxShare without rounding surprises at the edge
	// (2 of 8 is exactly 25 %).
	return members > 0 && float64(n) <= l.MaxShare*float64(members)+1e-9
}

// String prints the limit as a config would write it.
func (l RemovalLimit) String() string {
	s := "at most " + FormatShare(l.MaxShare) + " of a group's members"
	if l.MaxCount > 0 {
		s += " and at most " + strconv.Itoa(l.MaxCount)
	}
	return s
}

// FormatShare prints a fraction as a percentage: 0.25 as "25%".
func FormatShare(f float64) string {
	return strconv.FormatFloat(f*100, 'f', -1, 64) + "%"
}

// RemovalLimitOverride is a campaign's removal_limit: the keys it sets
// replace the config's, the others (nil) keep them.
type RemovalLimitOverride struct {
	MaxShare *float64
	MaxCount *int
}

// Apply returns l with the override's keys replaced.
func (o RemovalLimitOverride) Apply(l RemovalLimit) RemovalLimit {
	if o.MaxShare != nil {
		l.MaxShare = *o.MaxShare
	}
	if o.MaxCount != nil {
		l.MaxCount = *o.MaxCount
	}
	return l
}

// removalLimitFile is a removal_limit mapping as written.
type removalLimitFile struct {
	maxShare val[float64]
	maxCount val[int]
}

// parseRemovalLimit reads `removal_limit: {max_share: 25%, max_count: N}`
// under key (the top-level key in a config or a campaign file).
func (f *removalLimitFile) parse(p *parser, n *yaml.Node, key string) {
	p.mapping(n, key, []field{
		{name: "max_share", parse: into(&f.maxShare, keyed(p.share, key+".max_share"))},
		{name: "max_count", parse: into(&f.maxCount, func(n *yaml.Node) (int, bool) {
			i, ok := p.integer(n, key+".max_count")
			if ok && i < 0 {
				p.errorf(n, key+".max_count", "%d is negative; want a number of members, or 0 for no count limit", i)
				return 0, false
			}
			return i, ok
		})},
	})
}

// override returns what the file set.
func (f *removalLimitFile) override() RemovalLimitOverride {
	var o RemovalLimitOverride
	if f.maxShare.set() {
		o.MaxShare = &f.maxShare.v
	}
	if f.maxCount.set() {
		o.MaxCount = &f.maxCount.v
	}
	return o
}

// share reads a percentage such as 25% or 12.5%, above 0 and at most 100,
// as a fraction.
func (p *parser) share(n *yaml.Node, key string) (float64, bool) {
	n = deref(n)
	s, isPercent := "", false
	if n.Kind == yaml.ScalarNode {
		s, isPercent = strings.CutSuffix(strings.TrimSpace(n.Value), "%")
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if !isPercent || err != nil {
		p.errorf(n, key, "want a percentage such as 25%%, got %s", describe(n))
		return 0, false
	}
	if !(v > 0 && v <= 100) {
		p.errorf(n, key, "%s is out of range; want more than 0%% and at most 100%%", n.Value)
		return 0, false
	}
	return v / 100, true
}
