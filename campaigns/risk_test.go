package campaigns

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

func TestParseRisk(t *testing.T) {
	tests := []struct {
		in      string
		want    Risk
		wantErr string
	}{
		{in: "not-risky", want: RiskNotRisky},
		{in: "vandalism", want: RiskVandalism},
		{in: "security", want: RiskSecurity},
		{in: "internal", want: RiskInternal},
		{in: "  Internal ", want: RiskInternal},
		{in: "SECURITY", want: RiskSecurity},
		{in: "high", wantErr: `unknown risk level "high" (want not-risky, vandalism, security or internal)`},
		{in: "", wantErr: `unknown risk level "" (want not-risky, vandalism, security or internal)`},
		{in: "not_risky", wantErr: `unknown risk level "not_risky" (want not-risky, vandalism, security or internal)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRisk(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseRisk(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRisk(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRiskLevels(t *testing.T) {
	tests := []struct {
		r         Risk
		name      string
		label     string
		approvals int
		auto      bool
	}{
		{RiskNotRisky, "not-risky", "not-risky (lowest)", 1, true},
		{RiskVandalism, "vandalism", "vandalism", 1, false},
		{RiskSecurity, "security", "security", 2, false},
		{RiskInternal, "internal", "internal (highest)", 2, false},
		// The zero Risk is unset and must be treated as strictly as the riskiest.
		{Risk(0), "Risk(0)", "Risk(0)", 2, false},
		{Risk(9), "Risk(9)", "Risk(9)", 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			if got := tt.r.Label(); got != tt.label {
				t.Errorf("Label() = %q, want %q", got, tt.label)
			}
			if got := tt.r.RequiredApprovals(); got != tt.approvals {
				t.Errorf("RequiredApprovals() = %d, want %d", got, tt.approvals)
			}
			if got := tt.r.MayAutoApprove(); got != tt.auto {
				t.Errorf("MayAutoApprove() = %v, want %v", got, tt.auto)
			}
		})
	}
}

func TestRiskOrdering(t *testing.T) {
	want := []Risk{RiskNotRisky, RiskVandalism, RiskSecurity, RiskInternal}
	if diff := cmp.Diff(want, Risks()); diff != "" {
		t.Errorf("Risks() mismatch (-want +got):\n%s", diff)
	}
	if !slices.IsSorted(Risks()) {
		t.Error("Risks() is not in increasing order")
	}
	for i := 1; i < len(want); i++ {
		if want[i-1] >= want[i] {
			t.Errorf("%v >= %v, want strictly increasing risk", want[i-1], want[i])
		}
		if want[i-1].RequiredApprovals() > want[i].RequiredApprovals() {
			t.Errorf("%v needs more approvals than the riskier %v", want[i-1], want[i])
		}
	}
	if Risk(0).Valid() {
		t.Error("the zero Risk is valid, want it to mean unset")
	}
}

func TestRiskMarshalling(t *testing.T) {
	type doc struct {
		Risk Risk `json:"risk" yaml:"risk"`
	}
	for _, r := range Risks() {
		t.Run(r.String(), func(t *testing.T) {
			y, err := yaml.Marshal(doc{r})
			if err != nil {
				t.Fatalf("yaml.Marshal: %v", err)
			}
			if want := "risk: " + r.String() + "\n"; string(y) != want {
				t.Errorf("yaml.Marshal = %q, want %q", y, want)
			}
			var back doc
			if err := yaml.Unmarshal(y, &back); err != nil || back.Risk != r {
				t.Errorf("yaml round trip = %v, %v; want %v", back.Risk, err, r)
			}
			j, err := json.Marshal(doc{r})
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			var jback doc
			if err := json.Unmarshal(j, &jback); err != nil || jback.Risk != r {
				t.Errorf("json round trip of %s = %v, %v; want %v", j, jback.Risk, err, r)
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		var d doc
		err := yaml.Unmarshal([]byte("x: 1\nrisk: high\n"), &d)
		if want := `line 2: unknown risk level "high" (want not-risky, vandalism, security or internal)`; err == nil || err.Error() != want {
			t.Errorf("yaml.Unmarshal(risk: high) error = %v, want %q", err, want)
		}
		if err := yaml.Unmarshal([]byte("risk: [security]\n"), &d); err == nil {
			t.Error("yaml.Unmarshal(risk: [security]) succeeded, want an error")
		}
		if _, err := yaml.Marshal(doc{}); err == nil {
			t.Error("yaml.Marshal of the zero Risk succeeded, want an error")
		}
		if _, err := json.Marshal(doc{}); err == nil {
			t.Error("json.Marshal of the zero Risk succeeded, want an error")
		}
	})
}
