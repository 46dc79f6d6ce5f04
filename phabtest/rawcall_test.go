package phabtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// rawCall sends one Conduit call to s as the real clients do (a params
// form field holding the token in __conduit__) and returns the result
// map, or "ERR-CODE: info" when the server answers with an error: the
// semantics tests compare those with what the real Phorge answers.
func rawCall(t *testing.T, s *Server, tok, method string, params map[string]any) (map[string]any, string) {
	t.Helper()
	params["__conduit__"] = map[string]any{"token": tok}
	b, _ := json.Marshal(params)
	resp, err := http.PostForm(s.URL()+"/api/"+method, url.Values{"params": {string(b)}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Result    map[string]any
		ErrorCode *string `json:"error_code"`
		ErrorInfo *string `json:"error_info"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.ErrorCode != nil {
		return nil, *out.ErrorCode + ": " + *out.ErrorInfo
	}
	return out.Result, ""
}
