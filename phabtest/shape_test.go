package phabtest

import (
	"fmt"
	"sort"
	"strings"
)

// kind is a JSON value's kind: what a client's decoder cares about.
func kind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		_ = v
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// phidKeyed reports whether an object is keyed by PHIDs (feed stories,
// transactionPHIDs), whose keys cannot match between two servers.
func phidKeyed(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for k := range m {
		if !strings.HasPrefix(k, "PHID-") {
			return false
		}
	}
	return true
}

// shapeOptions tune compareShape.
type shapeOptions struct {
	// looseLen allows arrays and PHID-keyed objects of different lengths,
	// as long as both are empty or both are not.
	looseLen bool
}

// compareShape reports where got differs from want in shape: the same
// keys recursively, the same kinds (string vs number vs null, [] vs {}),
// and the same array lengths unless looseLen. Values are not compared.
func compareShape(want, got any, opt shapeOptions) []string {
	var diffs []string
	var walk func(path string, w, g any)
	walk = func(path string, w, g any) {
		wk, gk := kind(w), kind(g)
		if wk != gk {
			diffs = append(diffs, fmt.Sprintf("%s: kind %s, want %s", path, gk, wk))
			return
		}
		switch w := w.(type) {
		case map[string]any:
			g := g.(map[string]any)
			if phidKeyed(w) || phidKeyed(g) {
				walk(path, sortedValues(w), sortedValues(g))
				return
			}
			for _, k := range unionKeys(w, g) {
				wv, inW := w[k]
				gv, inG := g[k]
				switch {
				case !inG:
					diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
				case !inW:
					diffs = append(diffs, fmt.Sprintf("%s.%s: unexpected key", path, k))
				default:
					walk(path+"."+k, wv, gv)
				}
			}
		case []any:
			g := g.([]any)
			if (len(w) == 0) != (len(g) == 0) || (!opt.looseLen && len(w) != len(g)) {
				diffs = append(diffs, fmt.Sprintf("%s: %d elements, want %d", path, len(g), len(w)))
			}
			for i := 0; i < min(len(w), len(g)); i++ {
				walk(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])
			}
		}
	}
	walk("", want, got)
	return diffs
}

func sortedValues(m map[string]any) []any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
