package conduit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkSearchUsers scans 10,000 users by PHID (100 calls of 100 PHIDs)
// against an in-process server that answers each PHID with a user.
func BenchmarkSearchUsers(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/conduit.getcapabilities" {
			w.Write([]byte(capabilitiesAnswer))
			return
		}
		var params struct {
			Constraints struct {
				PHIDs []string `json:"phids"`
			} `json:"constraints"`
		}
		if err := json.Unmarshal([]byte(r.FormValue("params")), &params); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		data := make([]map[string]any, 0, len(params.Constraints.PHIDs))
		for i, phid := range params.Constraints.PHIDs {
			data = append(data, map[string]any{
				"id": i + 1, "type": "USER", "phid": phid,
				"fields": map[string]any{
					"username": fmt.Sprintf("user%d", i), "realName": "User",
					"roles": []string{"verified", "approved", "activated"},
				},
				"attachments": map[string]any{},
			})
		}
		json.NewEncoder(w).Encode(map[string]any{
			"result": map[string]any{
				"data":   data,
				"maps":   map[string]any{},
				"query":  map[string]any{"queryKey": nil},
				"cursor": map[string]any{"limit": 100, "after": nil, "before": nil, "order": nil},
			},
			"error_code": nil, "error_info": nil,
		})
	}))
	defer srv.Close()

	ctx := context.Background()
	c, err := Dial(ctx, srv.URL, testToken, Options{RequestsPerSecond: -1})
	if err != nil {
		b.Fatal(err)
	}
	phids := fakeUserPHIDs(0, 10000)
	mfa := false
	b.ReportAllocs()
	for b.Loop() {
		users, err := c.SearchUsers(ctx, UserQuery{PHIDs: phids, MFA: &mfa})
		if err != nil {
			b.Fatal(err)
		}
		if len(users) != len(phids) {
			b.Fatalf("got %d users, want %d", len(users), len(phids))
		}
	}
}
