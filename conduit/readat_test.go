package conduit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSearchTasksChunksAndReadAt: a long PHID list is sent in chunks of
// 100, one call each, and every task carries the server's clock of the
// answer that carried it (its Date header): what the bot's per-task
// cursor compares dateModified with (NOTES fact 47).
func TestSearchTasksChunksAndReadAt(t *testing.T) {
	serverNow := time.Date(2027, 1, 4, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var sizes []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/conduit.getcapabilities") {
			fmt.Fprint(w, capabilitiesAnswer)
			return
		}
		var p struct {
			Constraints struct {
				PHIDs []string `json:"phids"`
			} `json:"constraints"`
		}
		if err := json.Unmarshal([]byte(r.FormValue("params")), &p); err != nil {
			t.Errorf("params: %v", err)
		}
		mu.Lock()
		sizes = append(sizes, len(p.Constraints.PHIDs))
		mu.Unlock()
		var rows []string
		for i, phid := range p.Constraints.PHIDs {
			rows = append(rows, fmt.Sprintf(`{"id":%d,"phid":%q,"fields":{"dateModified":%d},"attachments":{}}`, i+1, phid, serverNow.Unix()-60))
		}
		w.Header().Set("Date", serverNow.Format(http.TimeFormat))
		fmt.Fprintf(w, `{"result":{"data":[%s],"cursor":{"after":null}},"error_code":null,"error_info":null}`, strings.Join(rows, ","))
	}))
	defer srv.Close()
	c, err := Dial(context.Background(), srv.URL, testToken, Options{RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	var phids []string
	for i := range 250 {
		phids = append(phids, fmt.Sprintf("PHID-TASK-%04d", i))
	}
	got, err := c.SearchTasks(context.Background(), TaskQuery{PHIDs: phids})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 250 {
		t.Fatalf("got %d tasks, want 250", len(got))
	}
	for i, tk := range got {
		if tk.PHID != phids[i] || !tk.ReadAt.Equal(serverNow) || !tk.DateModified.Equal(serverNow.Add(-time.Minute)) {
			t.Fatalf("task %d = %s read at %v modified %v, want %s read at %v", i, tk.PHID, tk.ReadAt, tk.DateModified, phids[i], serverNow)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) != 3 {
		t.Errorf("calls with %v PHIDs, want 3 calls of at most 100", sizes)
	}
	for _, n := range sizes {
		if n > 100 {
			t.Errorf("a call sent %d PHIDs", n)
		}
	}
}
