package campaigns

import (
	"strings"
	"testing"
)

// TestParseProxyRefusesWidePrefixes: a trusted proxy is a machine or a
// small pool of them; a prefix as wide as 0.0.0.0/0 would let anyone who
// reaches the port set the trusted header.
func TestParseProxyRefusesWidePrefixes(t *testing.T) {
	for _, tt := range []struct {
		in, want, err string
	}{
		{in: "10.0.0.5", want: "10.0.0.5/32"},
		{in: "10.0.0.0/24", want: "10.0.0.0/24"},
		{in: "10.1.2.3/16", want: "10.1.0.0/16"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "2001:db8:1::/48", want: "2001:db8:1::/48"},
		{in: "::ffff:10.0.0.0/120", want: "::ffff:10.0.0.0/120"},
		{in: "0.0.0.0/0", err: "every address"},
		{in: "::/0", err: "every address"},
		{in: "::ffff:0.0.0.0/96", err: "every address"},
		{in: "0.0.0.0/1", err: "too wide"},
		{in: "10.0.0.0/8", err: "too wide"},
		{in: "2001:db8::/32", err: "too wide"},
		{in: "not-an-ip", err: "is not an IP address"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParseProxy(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParseProxy(%q) = %v, %v; want an error saying %q", tt.in, p, err, tt.err)
				}
				return
			}
			if err != nil || p.String() != tt.want {
				t.Errorf("ParseProxy(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
			}
		})
	}
}
