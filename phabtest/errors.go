package phabtest

import (
	"fmt"
	"strings"
)

// apiError is a Conduit error answer: HTTP 200 with result null and the
// code and text below (fact 3).
type apiError struct {
	code string
	info string
}

func (e *apiError) Error() string { return e.code + ": " + e.info }

// Error codes as the real server spells them (fact 4).
const (
	codeCore             = "ERR-CONDUIT-CORE"
	codeCall             = "ERR-CONDUIT-CALL"
	codeInvalidAuth      = "ERR-INVALID-AUTH"
	codeInvalidSession   = "ERR-INVALID-SESSION"
	codeInvalidConstr    = "ERR-INVALID-CONSTRAINT"
	codePageSize         = "ERR-INVALID-PAGE-SIZE"
	codeBadTask          = "ERR_BAD_TASK" // legacy maniphest.info, with an underscore
	codeInvalidObject    = "ERR-INVALID-OBJECT-PHID"
	codeUnknownFeedView  = "ERR-UNKNOWN-TYPE"
	codeEdgeBadSources   = "ERR-BAD-SOURCEPHIDS"
	codeEdgeBadTypes     = "ERR-BAD-TYPES"
	codeEdgeMissingTypes = "ERR-ARRAY-TYPES"
)

func coreError(format string, args ...any) *apiError {
	return &apiError{code: codeCore, info: fmt.Sprintf(format, args...)}
}

func errJSONBody() *apiError {
	return coreError("Use form-encoded data to submit parameters to Conduit endpoints. Sending a JSON-encoded body and setting 'Content-Type': 'application/json' is not currently supported.")
}

func errInvalidParams(method string) *apiError {
	return coreError("Invalid parameter information was passed to method '%s'.", method)
}

func errUnknownMethod(method string) *apiError {
	return &apiError{code: codeCall, info: fmt.Sprintf("Conduit API method %q does not exist.", method)}
}

func errUndefinedParams(method string, keys []string) *apiError {
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = "'" + k + "'"
	}
	return &apiError{code: codeCall, info: fmt.Sprintf("API Method %q does not define these parameters: %s.", method, strings.Join(quoted, ", "))}
}

func errNoSession() *apiError {
	return &apiError{code: codeInvalidSession, info: "Session key is not present."}
}

// The auth errors echo the token back, as the real server does (fact 6).
func errTokenLength(tok string) *apiError {
	return &apiError{code: codeInvalidAuth, info: fmt.Sprintf("API token %q has the wrong length. API tokens should be 32 characters long.", tok)}
}

func errTokenFormat(tok string) *apiError {
	return &apiError{code: codeInvalidAuth, info: fmt.Sprintf("API token %q has the wrong format. API tokens should be 32 characters long and begin with one of these prefixes: api, cli, clr.", tok)}
}

func errTokenInvalid(tok string) *apiError {
	return &apiError{code: codeInvalidAuth, info: fmt.Sprintf("API token %q is not valid.", tok)}
}

func errUserNotPermitted() *apiError {
	return &apiError{code: codeInvalidAuth, info: "User account is not permitted to use the API."}
}

func errInvalidConstraint() *apiError {
	// The real text does not name the key (fact 4).
	return &apiError{code: codeInvalidConstr, info: `Parameter "constraints" includes an invalid key.`}
}

func errPageSize(limit int64) *apiError {
	return &apiError{code: codePageSize, info: fmt.Sprintf("Maximum page size for Conduit API method calls is 100, but this call specified %d.", limit)}
}

func errBadCursor(column string) *apiError {
	// PHP's qsprintf complaint leaks through as is (fact 13).
	return coreError("Expected a numeric scalar or null for %%Ld conversion. Query: %s IN (%%Ld)", column)
}

func errReading(name, problem string) *apiError {
	return coreError("Error while reading %q: %s", name, problem)
}

func errValidation(problems ...string) *apiError {
	return coreError("Validation errors:\n  - %s", strings.Join(problems, "\n  - "))
}

const (
	problemViewPolicy = "The view policy of this object would no longer allow you to view the object."
	problemEditPolicy = "The edit policy of this object would no longer allow you to edit the object."
)

// errObjectIdentifier is what the edit endpoints answer when an identifier
// does not load. Monograms and hashtags go through a name lookup that drops
// invisible objects silently (fact 23); IDs and PHIDs go through a query
// that raises a policy exception instead, which the callers handle.
func errObjectIdentifier(kind identKind, ident string) *apiError {
	switch kind {
	case identID:
		return coreError("No object exists with ID %q.", ident)
	case identPHID:
		return coreError("No object exists with PHID %q.", ident)
	default:
		return coreError("Monogram %q does not identify a valid object.", ident)
	}
}
