package campaigns

import (
	"strconv"
	"strings"
	"testing"
)

func TestTrackingTask(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr string
	}{
		{in: "T123", want: 123},
		{in: "t7", want: 7},
		{in: `"T42"`, want: 42},
		{in: "123", wantErr: `test.yaml:6: tracking_task: "123" is not a task (want a monogram such as T123)`},
		{in: "T0", wantErr: "is not a task"},
		{in: "T12x", wantErr: "is not a task"},
		{in: "PHID-TASK-aaaaaaaaaaaaaaaaaaaa", wantErr: "is not a task"},
		{in: "T99999999999", wantErr: "is not a task"},
		{in: "[T1]", wantErr: "tracking_task"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := ParseCampaign("test.yaml", campaignWith("tracking_task: "+tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.TrackingTask != tt.want || c.TrackingMonogram() != "T"+strconv.Itoa(tt.want) {
				t.Errorf("TrackingTask = %d (%s), want %d", c.TrackingTask, c.TrackingMonogram(), tt.want)
			}
		})
	}
	c, err := ParseCampaign("test.yaml", campaignWith())
	if err != nil || c.TrackingTask != 0 || c.TrackingMonogram() != "" {
		t.Errorf("unset: %d %q %v", c.TrackingTask, c.TrackingMonogram(), err)
	}
}
