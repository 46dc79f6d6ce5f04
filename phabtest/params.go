package phabtest

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// request is one decoded Conduit call.
type request struct {
	params map[string]any
	token  string
	// form reports whether the call came in flat PHP-form style
	// (api.token=...&constraints[isDisabled]=1), where every value is a
	// string and booleans may be spelled "1"/"0"/"true"/"false" (fact 9).
	form bool
}

// decodeRequest reads the parameters and the token of a Conduit call.
func decodeRequest(method string, r *http.Request) (*request, *apiError) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		return nil, errJSONBody() // fact 2
	}
	if err := r.ParseForm(); err != nil {
		return nil, errInvalidParams(method)
	}
	if raw, ok := r.Form["params"]; ok {
		// With a params field the token must sit inside it; a separate
		// api.token is ignored (fact 1).
		params, aerr := decodeJSONParams(method, raw[0])
		if aerr != nil {
			return nil, aerr
		}
		req := &request{params: params}
		if meta, ok := params["__conduit__"].(map[string]any); ok {
			req.token, _ = meta["token"].(string)
		}
		delete(params, "__conduit__")
		return req, nil
	}
	req := &request{params: map[string]any{}, form: true, token: r.Form.Get("api.token")}
	for key, vals := range r.Form {
		switch key {
		case "api.token", "output", "__conduit__":
			continue
		}
		for _, v := range vals {
			setFormValue(req.params, key, v)
		}
	}
	for k, v := range req.params {
		req.params[k] = listify(v)
	}
	return req, nil
}

func decodeJSONParams(method, raw string) (map[string]any, *apiError) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber() // keep 10 and "10" apart, and integers exact
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, errInvalidParams(method)
	}
	switch v := v.(type) {
	case map[string]any:
		return v, nil
	case []any:
		// PHP decodes "[]" to an empty array, the same as "{}".
		if len(v) == 0 {
			return map[string]any{}, nil
		}
	case nil:
		return map[string]any{}, nil
	}
	return nil, errInvalidParams(method)
}

var formKeyPart = regexp.MustCompile(`\[([^\]]*)\]`)

// setFormValue stores v under a PHP-style key such as constraints[phids][0]
// or constraints[phids][].
func setFormValue(dst map[string]any, key, v string) {
	base, rest, nested := strings.Cut(key, "[")
	if !nested {
		dst[key] = v
		return
	}
	var parts []string
	for _, m := range formKeyPart.FindAllStringSubmatch("["+rest, -1) {
		parts = append(parts, m[1])
	}
	parts = append([]string{base}, parts...)
	cur := dst
	for i, p := range parts {
		if p == "" { // PHP's append syntax
			p = strconv.Itoa(len(cur))
		}
		if i == len(parts)-1 {
			cur[p] = v
			return
		}
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
}

// listify turns PHP arrays with keys 0..n-1 into lists, as PHP itself
// treats them.
func listify(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, x := range m {
		m[k] = listify(x)
	}
	list := make([]any, len(m))
	for k, x := range m {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(m) || strconv.Itoa(i) != k {
			return m
		}
		list[i] = x
	}
	return list
}

// call is one authenticated method invocation.
type call struct {
	method string
	*request
	viewer *user
	// cost is the server time the call would take on a real Phorge
	// (Options.FeedStoryCost), spent after the lock is released.
	cost time.Duration
}

// value returns a parameter; absent and null are the same (PHP's idx()).
func (c *call) value(key string) (any, bool) {
	v, ok := c.params[key]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

func readBool(name string, v any, form bool) (bool, *apiError) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		// Only flat form mode spells booleans as strings (fact 9).
		if form {
			switch v {
			case "true", "1":
				return true, nil
			case "false", "0":
				return false, nil
			}
		}
	}
	return false, errReading(name, "Expected boolean (true or false), got something else.")
}

func readString(name string, v any) (string, *apiError) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", errReading(name, "Expected a string, got something else.")
}

func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	case float64:
		return int64(v), v == float64(int64(v))
	}
	return 0, false
}

func readInt(name string, v any) (int64, *apiError) {
	n, ok := asInt(v)
	if !ok {
		return 0, errReading(name, "Expected an integer, got something else.")
	}
	return n, nil
}

func readList(name string, v any, nonEmpty bool) ([]any, *apiError) {
	list, ok := v.([]any)
	if !ok {
		return nil, errReading(name, "Expected a list, but value is not a list.")
	}
	if nonEmpty && len(list) == 0 {
		return nil, errReading(name, "Expected a nonempty list, but value is an empty list.") // fact 10
	}
	return list, nil
}

func readStringList(name string, v any, nonEmpty bool) ([]string, *apiError) {
	list, aerr := readList(name, v, nonEmpty)
	if aerr != nil {
		return nil, aerr
	}
	out := make([]string, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, errReading(name, "Expected a list of strings, but item with index \""+strconv.Itoa(i)+"\" is not a string.")
		}
		out[i] = s
	}
	return out, nil
}

func readIntList(name string, v any, nonEmpty bool) ([]int, *apiError) {
	list, aerr := readList(name, v, nonEmpty)
	if aerr != nil {
		return nil, aerr
	}
	out := make([]int, len(list))
	for i, x := range list {
		n, ok := asInt(x)
		if !ok {
			return nil, errReading(name, "Expected a list of integers, but item with index \""+strconv.Itoa(i)+"\" is not an integer.")
		}
		out[i] = int(n)
	}
	return out, nil
}

// constraintKind is the type of one search constraint.
type constraintKind int

const (
	cStrings constraintKind = iota // nonempty list of strings
	cInts                          // nonempty list of integers
	cBool
	cString
	cEpoch // integer (unix seconds)
)

// constraints reads the constraints parameter against the method's spec.
// An unknown key is ERR-INVALID-CONSTRAINT without naming it (fact 4); the
// spec may depend on the viewer (the mfa key exists only for admins, fact 15).
func (c *call) constraints(spec map[string]constraintKind) (map[string]any, *apiError) {
	out := map[string]any{}
	raw, ok := c.value("constraints")
	if !ok {
		return out, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		if l, isList := raw.([]any); isList && len(l) == 0 {
			return out, nil // PHP's empty array
		}
		return nil, errReading("constraints", "Expected a map, got something else.")
	}
	keys := sortedKeys(m)
	for _, k := range keys {
		if _, known := spec[k]; !known {
			return nil, errInvalidConstraint()
		}
	}
	for _, k := range keys {
		v := m[k]
		if v == nil {
			continue
		}
		var (
			val  any
			aerr *apiError
		)
		switch spec[k] {
		case cStrings:
			val, aerr = readStringList(k, v, true)
		case cInts:
			val, aerr = readIntList(k, v, true)
		case cBool:
			val, aerr = readBool(k, v, c.form)
		case cString:
			val, aerr = readString(k, v)
		case cEpoch:
			var n int64
			n, aerr = readInt(k, v)
			// The real epoch parameter refuses zero and negative times.
			if aerr == nil && n <= 0 {
				aerr = coreError("Epoch timestamp must be larger than 0, got %d.", n)
			}
			val = n
		}
		if aerr != nil {
			return nil, aerr
		}
		out[k] = val
	}
	return out, nil
}

// attachments reads the attachments parameter: a map of name → true.
func (c *call) attachments(known ...string) (map[string]bool, *apiError) {
	out := map[string]bool{}
	raw, ok := c.value("attachments")
	if !ok {
		return out, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		if l, isList := raw.([]any); isList && len(l) == 0 {
			return out, nil
		}
		return nil, errReading("attachments", "Expected a map, got something else.")
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(known, k) {
			return nil, coreError("Attachment (%q) is not recognized. Valid attachments are: %s.", k, strings.Join(known, ", "))
		}
		// Clients send true; PHP enables any truthy value.
		on, aerr := readBool(k, m[k], c.form)
		out[k] = on || (aerr != nil && m[k] != nil)
	}
	return out, nil
}

// queryKey reads the queryKey parameter; only the builtin "all" exists here.
func (c *call) queryKey() (any, *apiError) {
	raw, ok := c.value("queryKey")
	if !ok {
		return nil, nil
	}
	if s, _ := raw.(string); s != "all" {
		return nil, coreError("Query key %q does not correspond to a valid query.", raw)
	}
	return raw, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// pageRequest is the limit/after/before of a *.search call.
type pageRequest struct {
	limit    int
	rawLimit any // echoed in cursor.limit as sent ("100" in form mode)
	after    *int
	before   *int
}

// pageParams reads limit, after and before. column names the SQL column in
// the error a non-numeric cursor produces (fact 13).
func (c *call) pageParams(column string) (pageRequest, *apiError) {
	p := pageRequest{limit: 100, rawLimit: 100}
	if raw, ok := c.value("limit"); ok {
		n, ok := asInt(raw)
		if !ok {
			return p, errReading("limit", "Expected an integer, got something else.")
		}
		if n > 100 {
			return p, errPageSize(n) // fact 14
		}
		if n > 0 {
			p.limit, p.rawLimit = int(n), raw
		}
	}
	for _, k := range []string{"after", "before"} {
		raw, ok := c.value(k)
		if !ok {
			continue // null restarts from the first page (fact 12)
		}
		n, ok := asInt(raw)
		if !ok {
			return p, errBadCursor(column)
		}
		id := int(n)
		if k == "after" {
			p.after = &id
		} else {
			p.before = &id
		}
	}
	return p, nil
}

// sortKey places a row in a result order: by s (if the order uses it), then
// by id.
type sortKey struct {
	s  string
	id int
}

// rowOrder is a result order.
type rowOrder struct {
	byString bool // order by s ascending, then id ascending
	idAsc    bool // without byString: id ascending instead of newest first
}

func (o rowOrder) compare(a, b sortKey) int {
	if o.byString {
		if c := strings.Compare(a.s, b.s); c != 0 {
			return c
		}
		return a.id - b.id
	}
	if o.idAsc {
		return a.id - b.id
	}
	return b.id - a.id
}

// cursorOut is the paging part of a *.search answer. after and before are
// strings holding row ids, or null (fact 11).
type cursorOut struct {
	Limit  any     `json:"limit"`
	After  *string `json:"after"`
	Before *string `json:"before"`
}

func idString(id int) *string {
	s := strconv.Itoa(id)
	return &s
}

// paginate picks one page out of keys (already sorted by order) and
// returns the chosen indices and the cursor. It fetches one row more than
// the limit, so an exactly full last page already ends with after null
// (fact 12). The cursor is always a row id, even when the order is not by
// id (fact 13); lookup resolves it to the cursor row's key.
func paginate(keys []sortKey, order rowOrder, p pageRequest, lookup func(id int) (sortKey, bool), queryName string) ([]int, cursorOut, *apiError) {
	cur := cursorOut{Limit: p.rawLimit}
	cursorKey := func(id int) (sortKey, *apiError) {
		if !order.byString {
			return sortKey{id: id}, nil
		}
		k, ok := lookup(id)
		if !ok {
			return sortKey{}, coreError("Cursor %q does not identify a valid object in query %q.", strconv.Itoa(id), queryName)
		}
		return k, nil
	}
	var idx []int
	switch {
	case p.after == nil && p.before != nil:
		ck, aerr := cursorKey(*p.before)
		if aerr != nil {
			return nil, cur, aerr
		}
		end := 0
		for end < len(keys) && order.compare(keys[end], ck) < 0 {
			end++
		}
		start := max(0, end-p.limit)
		for i := start; i < end; i++ {
			idx = append(idx, i)
		}
		if len(idx) > 0 {
			cur.After = idString(keys[idx[len(idx)-1]].id)
			if start > 0 {
				cur.Before = idString(keys[idx[0]].id)
			}
		}
	default:
		start := 0
		if p.after != nil {
			ck, aerr := cursorKey(*p.after)
			if aerr != nil {
				return nil, cur, aerr
			}
			for start < len(keys) && order.compare(keys[start], ck) <= 0 {
				start++
			}
		}
		for i := start; i < len(keys) && len(idx) < p.limit; i++ {
			idx = append(idx, i)
		}
		if len(keys)-start > p.limit {
			cur.After = idString(keys[idx[len(idx)-1]].id)
		}
		if p.after != nil && len(idx) > 0 {
			cur.Before = idString(keys[idx[0]].id)
		}
	}
	return idx, cur, nil
}

// searchCursor is cursorOut plus the order, as the *.search methods other
// than transaction.search return it.
type searchCursor struct {
	Limit  any     `json:"limit"`
	After  *string `json:"after"`
	Before *string `json:"before"`
	Order  any     `json:"order"`
}

// searchResult is the common answer of user/project/maniphest.search.
type searchResult struct {
	Data   any            `json:"data"`
	Maps   any            `json:"maps"`
	Query  map[string]any `json:"query"`
	Cursor searchCursor   `json:"cursor"`
}

func newSearchResult(data any, maps any, queryKey any, cur cursorOut, order any) searchResult {
	if maps == nil {
		maps = map[string]any{}
	}
	return searchResult{
		Data:   data,
		Maps:   maps,
		Query:  map[string]any{"queryKey": queryKey},
		Cursor: searchCursor{Limit: cur.Limit, After: cur.After, Before: cur.Before, Order: order},
	}
}

// orderedObject is a JSON object that keeps its keys in insertion order
// (phid.lookup answers keyed by input, feed.query newest first). Empty, it
// encodes as PHP's `[]` (fact 8).
type orderedObject struct {
	keys []string
	vals map[string]any
}

func (o *orderedObject) set(k string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

var _ json.Marshaler = (*orderedObject)(nil)

func (o *orderedObject) MarshalJSON() ([]byte, error) {
	if len(o.keys) == 0 {
		return []byte("[]"), nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		vb, err := marshalJSON(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalJSON encodes like PHP's json_encode as far as it matters: no HTML
// escaping of <, > and &.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// normalizeValue turns a decoded parameter into plain Go values for Write
// records: json.Number becomes int64 or float64, lists of strings []string.
func normalizeValue(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	case []any:
		strs := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				out := make([]any, len(v))
				for i, y := range v {
					out[i] = normalizeValue(y)
				}
				return out
			}
			strs = append(strs, s)
		}
		return strs
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = normalizeValue(x)
		}
		return out
	}
	return v
}

// stringOrInt renders an identifier parameter (10 or "T10") as text.
func stringOrInt(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	}
	return "", false
}
