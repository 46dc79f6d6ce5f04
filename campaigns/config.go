package campaigns

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auditbot/auditbot/internal/safefile"
)

// TokenEnv is the environment variable that holds the Conduit API token. It
// wins over conduit.token_file.
const TokenEnv = "AUDITBOT_CONDUIT_TOKEN"

// Built-in defaults for keys a config file leaves out.
const (
	DefaultTimeout           = 30 * time.Second
	DefaultRequestsPerSecond = 10.0
	// MinRequestsPerSecond and MaxRequestsPerSecond bound the rate limit.
	MinRequestsPerSecond = 0.01
	MaxRequestsPerSecond = 1000.0
	DefaultStateFile     = "auditbot.db"
	DefaultLogLevel      = "info"
	DefaultLogFormat     = "console"
	DefaultTickEvery     = 15 * time.Minute
	// DefaultMaxAuthFailures is how many ticks in a row may find the token
	// rejected before the daemon exits (code 3).
	DefaultMaxAuthFailures = 3
	DefaultCampaignsDir    = "campaigns"
	// DefaultMinNotice is how long affected users get at least between a
	// campaign's launch and its cutoff, unless the config sets min_notice.
	DefaultMinNotice = 14 * day
	// DefaultRisk is the risk of groups the config does not list. It is
	// security, not the lowest level, so that an unlisted group always
	// needs two approvers and is never auto-approved.
	DefaultRisk = RiskSecurity
)

// tokenShaped reports whether s looks like a Conduit API token: 32
// characters starting with api-, cli- or clr-.
func tokenShaped(s string) bool {
	return len(s) == 32 && (strings.HasPrefix(s, "api-") || strings.HasPrefix(s, "cli-") || strings.HasPrefix(s, "clr-"))
}

// MinTickEvery is the shortest schedule.tick_every allowed: every tick
// reads group memberships and tasks over Conduit.
const MinTickEvery = time.Minute

// Config is the bot's configuration, as loaded from config.yaml. Relative
// paths in the file are resolved against the directory holding the file,
// so the bot behaves the same whatever its working directory.
type Config struct {
	Conduit ConduitConfig
	// StateFile is the bbolt database holding campaign state.
	StateFile string
	// TemplatesDir overrides the built-in task and comment templates; ""
	// means use the built-in ones.
	TemplatesDir string
	Log          LogConfig
	Schedule     ScheduleConfig
	// Dashboard is the read-only web dashboard; off unless Listen is set.
	Dashboard DashboardConfig
	// CampaignsDir is where `auditbot launch NAME` looks for NAME.yaml.
	CampaignsDir string
	// Groups maps group names, as written in the file, to their risk.
	// Look groups up with RiskOf, which also applies DefaultRisk.
	Groups map[string]Risk
	// DefaultRisk is the risk of groups not listed in Groups.
	DefaultRisk Risk
	// MinNotice is the least time between a campaign's launch and its
	// cutoff; see Campaign.CheckNotice.
	MinNotice time.Duration
	// RemovalLimit is the guard-rail on removal batches; a campaign may
	// override it (Campaign.RemovalLimit).
	RemovalLimit RemovalLimit
	// Metrics configures the daemon's health and metrics endpoints.
	Metrics MetricsConfig
	// ApprovalReminder is how long a removal batch waits undecided before
	// the approvers are reminded; a campaign may override it.
	ApprovalReminder time.Duration
	// Source is the file the config came from, for messages.
	Source string
}

// ConduitConfig says how to reach Conduit. The token is deliberately not
// here: see Config.Token.
type ConduitConfig struct {
	// URL is the Phabricator base URL, such as https://phabricator.example.org,
	// without a trailing slash or /api.
	URL string
	// TokenFile names a file holding the API token; "" if not configured.
	TokenFile string
	// Timeout bounds each Conduit call.
	Timeout time.Duration
	// RequestsPerSecond is the client-side rate limit.
	RequestsPerSecond float64
}

// LogConfig sets up logging.
type LogConfig struct {
	Level  string // trace, debug, info, warn or error
	Format string // json or console
}

// DashboardConfig sets up the read-only web dashboard.
type DashboardConfig struct {
	// Listen is host:port to serve on; "" leaves the dashboard off.
	Listen string
	// SecretFile names a file holding a shared secret a browser must
	// present (as ?secret= once, then a cookie, or a Bearer header).
	SecretFile string
	// TrustedHeader names a header a reverse proxy sets to the
	// authenticated user; requests without it are refused.
	TrustedHeader string
	// TrustedProxies are the addresses (IPs or CIDR prefixes) of the
	// reverse proxy that sets TrustedHeader. The header counts only on a
	// request from one of them or from loopback: anyone else reaching
	// the port could set it themselves.
	TrustedProxies []netip.Prefix
}

// ScheduleConfig drives daemon mode.
type ScheduleConfig struct {
	// TickEvery is how often the daemon runs its chores.
	TickEvery time.Duration
	// MaxAuthFailures is how many ticks in a row may find the Conduit
	// token rejected before the daemon exits with code 3, so a supervisor
	// sees a revoked token instead of a daemon failing forever.
	MaxAuthFailures int
}

// MetricsConfig is the daemon's HTTP listener for /healthz, /readyz and
// /metrics.
type MetricsConfig struct {
	// Listen is the host:port to serve on; "" (the default) serves nothing.
	Listen string
	// AllowRemote lets Listen be a non-loopback address. The endpoints
	// have no authentication (they show counts, never names), so another
	// host may reach them only when the operator says so (a kubelet
	// probes the pod's own address).
	AllowRemote bool
}

var (
	logLevels  = []string{"trace", "debug", "info", "warn", "error"}
	logFormats = []string{"json", "console"}
)

const tokenInYAML = "the Conduit token must not be written in the config file; " +
	"put it in a file named by conduit.token_file (mode 0600) or in the " + TokenEnv + " environment variable"

// LoadConfig reads and validates the bot configuration at path. On error
// it reports every problem found, each with its file and line.
func LoadConfig(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("campaigns: reading config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses and validates a bot configuration. name is used in
// error messages and to resolve relative paths (against its directory).
func ParseConfig(name string, data []byte) (*Config, error) {
	p := &parser{file: name}
	var f configFile
	if root := p.document(data, "a mapping with at least conduit.url"); root != nil {
		f.parse(p, root)
	}
	cfg := f.compile(p, filepath.Dir(name))
	if err := p.err(); err != nil {
		return nil, err
	}
	cfg.Source = name
	return cfg, nil
}

// configFile is config.yaml as written: values with their nodes, before
// defaults.
type configFile struct {
	root                *yaml.Node
	url                 val[string]
	tokenFile           val[string]
	timeout             val[time.Duration]
	rps                 val[float64]
	stateFile           val[string]
	templatesDir        val[string]
	logLevel, logFormat val[string]
	tickEvery           val[time.Duration]
	dashListen          val[string]
	dashSecretFile      val[string]
	dashTrustedHeader   val[string]
	dashTrustedProxies  []item
	dashProxiesNode     *yaml.Node
	metricsAllowRemote  val[bool]
	maxAuthFailures     val[float64]
	metricsListen       val[string]
	campaignsDir        val[string]
	groups              []groupEntry
	defaultRisk         val[Risk]
	minNotice           val[string]
	approvalReminder    val[string]
	removalLimit        removalLimitFile
}

type groupEntry struct {
	name string
	key  *yaml.Node
	risk val[Risk]
}

func (f *configFile) parse(p *parser, root *yaml.Node) {
	f.root = root
	p.mapping(root, "", []field{
		{name: "conduit", required: true, parse: func(n *yaml.Node) {
			p.mapping(n, "conduit", []field{
				{name: "url", required: true, parse: into(&f.url, keyed(p.str, "conduit.url"))},
				{name: "token_file", parse: into(&f.tokenFile, keyed(p.str, "conduit.token_file"))},
				{name: "timeout", parse: into(&f.timeout, keyed(p.duration, "conduit.timeout"))},
				{name: "requests_per_second", parse: into(&f.rps, keyed(p.number, "conduit.requests_per_second"))},
				{name: "token", secret: tokenInYAML},
				{name: "api_token", secret: tokenInYAML},
			})
		}},
		{name: "state_file", parse: into(&f.stateFile, keyed(p.str, "state_file"))},
		{name: "templates_dir", parse: into(&f.templatesDir, keyed(p.str, "templates_dir"))},
		{name: "log", parse: func(n *yaml.Node) {
			p.mapping(n, "log", []field{
				{name: "level", parse: into(&f.logLevel, keyed(p.str, "log.level"))},
				{name: "format", parse: into(&f.logFormat, keyed(p.str, "log.format"))},
			})
		}},
		{name: "schedule", parse: func(n *yaml.Node) {
			p.mapping(n, "schedule", []field{
				{name: "tick_every", parse: into(&f.tickEvery, keyed(p.duration, "schedule.tick_every"))},
				{name: "max_auth_failures", parse: into(&f.maxAuthFailures, keyed(p.number, "schedule.max_auth_failures"))},
			})
		}},
		{name: "metrics", parse: func(n *yaml.Node) {
			p.mapping(n, "metrics", []field{
				{name: "listen", parse: into(&f.metricsListen, keyed(p.str, "metrics.listen"))},
				{name: "allow_remote", parse: into(&f.metricsAllowRemote, keyed(p.boolean, "metrics.allow_remote"))},
			})
		}},
		{name: "dashboard", parse: func(n *yaml.Node) {
			p.mapping(n, "dashboard", []field{
				{name: "listen", parse: into(&f.dashListen, keyed(p.str, "dashboard.listen"))},
				{name: "secret_file", parse: into(&f.dashSecretFile, keyed(p.str, "dashboard.secret_file"))},
				{name: "trusted_header", parse: into(&f.dashTrustedHeader, keyed(p.str, "dashboard.trusted_header"))},
				{name: "trusted_proxies", parse: func(n *yaml.Node) {
					f.dashProxiesNode = n
					f.dashTrustedProxies, _ = p.list(n, "dashboard.trusted_proxies")
				}},
			})
		}},
		{name: "campaigns_dir", parse: into(&f.campaignsDir, keyed(p.str, "campaigns_dir"))},
		{name: "groups", parse: func(n *yaml.Node) { f.parseGroups(p, n) }},
		{name: "min_notice", parse: into(&f.minNotice, keyed(p.str, "min_notice"))},
		{name: "approval_reminder", parse: into(&f.approvalReminder, keyed(p.str, "approval_reminder"))},
		{name: "default_risk", parse: into(&f.defaultRisk, func(n *yaml.Node) (Risk, bool) { return p.risk(n, "default_risk") })},
		{name: "removal_limit", parse: func(n *yaml.Node) { f.removalLimit.parse(p, n, "removal_limit") }},
		{name: "token", secret: tokenInYAML},
		{name: "api_token", secret: tokenInYAML},
	})
}

// parseGroups reads `groups: {NAME: {risk: LEVEL}, ...}`.
func (f *configFile) parseGroups(p *parser, n *yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "groups", "want a mapping of group names to {risk: LEVEL}, got %s", describe(n))
		return
	}
	first := make(map[string]*yaml.Node) // GroupKey -> key node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		name, ok := p.str(k, "groups")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		path := join("groups", name)
		if GroupKey(name) == "" {
			p.errorf(k, "groups", "empty group name")
			continue
		}
		if prev, dup := first[GroupKey(name)]; dup {
			p.errorf(k, "groups", "%q is the same group as %q (line %d)", name, prev.Value, prev.Line)
			continue
		}
		first[GroupKey(name)] = k
		e := groupEntry{name: name, key: k}
		if isNull(v) {
			p.errorf(k, path, "want {risk: LEVEL} with LEVEL one of %s", oneOf(riskNameList()))
			continue
		}
		p.mapping(v, path, []field{
			{name: "risk", required: true, parse: into(&e.risk, func(n *yaml.Node) (Risk, bool) { return p.risk(n, path+".risk") })},
		})
		if e.risk.set() {
			f.groups = append(f.groups, e)
		}
	}
}

// risk reads a risk level name.
func (p *parser) risk(n *yaml.Node, key string) (Risk, bool) {
	s, ok := p.str(n, key)
	if !ok {
		return 0, false
	}
	r, err := ParseRisk(s)
	if err != nil {
		p.errorf(n, key, "%v", err)
		return 0, false
	}
	return r, true
}

// compile applies defaults and checks every value, recording problems in p.
func (f *configFile) compile(p *parser, dir string) *Config {
	cfg := f.withDefaults()
	f.checkConduit(p, cfg)
	f.checkSchedule(p)
	f.checkMetricsAndLog(p, cfg)
	f.resolvePaths(p, cfg, dir)
	for _, g := range f.groups {
		cfg.Groups[g.name] = g.risk.v
	}
	f.compileDurations(p, cfg)
	f.compileDashboard(p, cfg)
	return cfg
}

// withDefaults is the config as written, with defaults for what is not.
func (f *configFile) withDefaults() *Config {
	return &Config{
		Conduit: ConduitConfig{
			TokenFile:         f.tokenFile.v,
			Timeout:           f.timeout.or(DefaultTimeout),
			RequestsPerSecond: f.rps.or(DefaultRequestsPerSecond),
		},
		StateFile:    f.stateFile.or(DefaultStateFile),
		TemplatesDir: f.templatesDir.v,
		Log: LogConfig{
			Level:  strings.ToLower(f.logLevel.or(DefaultLogLevel)),
			Format: strings.ToLower(f.logFormat.or(DefaultLogFormat)),
		},
		Dashboard: DashboardConfig{Listen: strings.TrimSpace(f.dashListen.v), SecretFile: f.dashSecretFile.v, TrustedHeader: strings.TrimSpace(f.dashTrustedHeader.v)},
		Schedule: ScheduleConfig{TickEvery: f.tickEvery.or(DefaultTickEvery),
			MaxAuthFailures: int(f.maxAuthFailures.or(DefaultMaxAuthFailures))},
		Metrics:          MetricsConfig{Listen: strings.TrimSpace(f.metricsListen.v), AllowRemote: f.metricsAllowRemote.v},
		CampaignsDir:     f.campaignsDir.or(DefaultCampaignsDir),
		Groups:           make(map[string]Risk, len(f.groups)),
		DefaultRisk:      f.defaultRisk.or(DefaultRisk),
		RemovalLimit:     f.removalLimit.override().Apply(DefaultRemovalLimit()),
		ApprovalReminder: DefaultApprovalReminder,
		MinNotice:        DefaultMinNotice,
	}
}

// checkConduit checks the conduit section and sets cfg's URL.
func (f *configFile) checkConduit(p *parser, cfg *Config) {
	if f.url.set() {
		u, err := checkBaseURL(f.url.v)
		if err != nil {
			p.errorf(f.url.n, "conduit.url", "%v", err)
		}
		cfg.Conduit.URL = u
	}
	if f.timeout.set() && f.timeout.v <= 0 {
		p.errorf(f.timeout.n, "conduit.timeout", "must be greater than zero, got %s", f.timeout.n.Value)
	}
	// NaN, infinities and absurd values would switch the rate limit off.
	if f.rps.set() && !(f.rps.v >= MinRequestsPerSecond && f.rps.v <= MaxRequestsPerSecond) {
		p.errorf(f.rps.n, "conduit.requests_per_second", "must be between %g and %g, got %s", MinRequestsPerSecond, MaxRequestsPerSecond, f.rps.n.Value)
	}
	if f.tokenFile.set() && tokenShaped(strings.TrimSpace(f.tokenFile.v)) {
		// The error must not repeat the value: it is the secret.
		p.errorf(f.tokenFile.n, "conduit.token_file", "holds what looks like the token itself; name the file that holds it instead")
	}
}

func (f *configFile) checkSchedule(p *parser) {
	if f.tickEvery.set() && f.tickEvery.v < MinTickEvery {
		p.errorf(f.tickEvery.n, "schedule.tick_every", "%s is too often; at least %s, as every tick reads memberships and tasks over Conduit",
			f.tickEvery.n.Value, "1m")
	}
	if f.maxAuthFailures.set() && (f.maxAuthFailures.v < 1 || f.maxAuthFailures.v != float64(int(f.maxAuthFailures.v))) {
		p.errorf(f.maxAuthFailures.n, "schedule.max_auth_failures", "must be a whole number of at least 1, got %s", f.maxAuthFailures.n.Value)
	}
}

func (f *configFile) checkMetricsAndLog(p *parser, cfg *Config) {
	if l := cfg.Metrics.Listen; l != "" {
		if _, port, err := net.SplitHostPort(l); err != nil || port == "" {
			p.errorf(f.metricsListen.n, "metrics.listen", "want host:port such as 127.0.0.1:9090, got %q", l)
		} else if err := CheckMetricsListen(l, cfg.Metrics.AllowRemote); err != nil {
			p.errorf(f.metricsListen.n, "metrics.listen", "%v", err)
		}
	}
	if !slices.Contains(logLevels, cfg.Log.Level) {
		p.errorf(f.logLevel.n, "log.level", "unknown level %q (want %s)", f.logLevel.v, oneOf(logLevels))
	}
	if !slices.Contains(logFormats, cfg.Log.Format) {
		p.errorf(f.logFormat.n, "log.format", "unknown format %q (want %s)", f.logFormat.v, oneOf(logFormats))
	}
}

// resolvePaths makes cfg's paths absolute, relative ones from dir (the
// config file's directory), and checks the required ones are set.
func (f *configFile) resolvePaths(p *parser, cfg *Config, dir string) {
	for _, pth := range []struct {
		key      string
		v        val[string]
		dst      *string
		optional bool
	}{
		{"conduit.token_file", f.tokenFile, &cfg.Conduit.TokenFile, true},
		{"state_file", f.stateFile, &cfg.StateFile, false},
		{"templates_dir", f.templatesDir, &cfg.TemplatesDir, true},
		{"campaigns_dir", f.campaignsDir, &cfg.CampaignsDir, false},
		{"dashboard.secret_file", f.dashSecretFile, &cfg.Dashboard.SecretFile, true},
	} {
		s := strings.TrimSpace(*pth.dst)
		if s == "" {
			if !pth.optional {
				p.errorf(pth.v.n, pth.key, "must not be empty")
			}
			*pth.dst = ""
			continue
		}
		if !filepath.IsAbs(s) {
			s = filepath.Join(dir, s)
		}
		*pth.dst = filepath.Clean(s)
	}
}

// compileDurations parses approval_reminder and min_notice.
func (f *configFile) compileDurations(p *parser, cfg *Config) {
	if f.approvalReminder.set() {
		d, err := ParsePeriod(f.approvalReminder.v)
		if err == nil && d <= 0 {
			err = fmt.Errorf("%q must be greater than zero", f.approvalReminder.v)
		}
		if err != nil {
			p.errorf(f.approvalReminder.n, "approval_reminder", "%v", err)
		}
		cfg.ApprovalReminder = d
	}
	if f.minNotice.set() {
		d, err := ParseOffset(f.minNotice.v)
		if err != nil {
			p.errorf(f.minNotice.n, "min_notice", "%v", err)
		}
		cfg.MinNotice = d
	}
}

// compileDashboard parses the trusted proxies and checks the dashboard's
// listen address against how it is protected.
func (f *configFile) compileDashboard(p *parser, cfg *Config) {
	for _, it := range f.dashTrustedProxies {
		pfx, err := ParseProxy(it.s)
		if err != nil {
			p.errorf(it.n, "dashboard.trusted_proxies", "%v", err)
			continue
		}
		cfg.Dashboard.TrustedProxies = append(cfg.Dashboard.TrustedProxies, pfx)
	}
	if len(f.dashTrustedProxies) > 0 && cfg.Dashboard.TrustedHeader == "" {
		p.errorf(f.dashProxiesNode, "dashboard.trusted_proxies", "set without dashboard.trusted_header: the proxies are trusted only for that header")
	}
	if cfg.Dashboard.Listen != "" {
		if err := CheckListen(cfg.Dashboard.Listen, DashboardProtected(cfg.Dashboard.SecretFile != "", cfg.Dashboard.TrustedHeader, cfg.Dashboard.TrustedProxies)); err != nil {
			p.errorf(f.dashListen.n, "dashboard.listen", "%v", err)
		}
	}
}

// CheckListen checks a dashboard address: host:port, and loopback unless
// the dashboard is protected (DashboardProtected) off this machine: its
// pages name every non-compliant member of every audited group.
func CheckListen(addr string, protected bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port such as 127.0.0.1:8090: %v", err)
	}
	if isLoopbackHost(host) || protected {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address; to serve beyond this machine set dashboard.secret_file, or dashboard.trusted_header with dashboard.trusted_proxies (the addresses of the proxy that sets it: a header alone can be sent by anyone who reaches the port)", host)
}

// DashboardProtected reports whether the dashboard is protected when
// reachable from other hosts: by a secret, or by a trusted header that
// counts only from known proxy addresses. A header alone is not: the
// dashboard cannot tell the proxy from a client that sets it itself.
func DashboardProtected(secret bool, trustedHeader string, proxies []netip.Prefix) bool {
	return secret || (trustedHeader != "" && len(proxies) > 0)
}

// CheckMetricsListen checks the metrics address: loopback unless
// allowRemote, as /metrics and the probes have no authentication.
func CheckMetricsListen(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port such as 127.0.0.1:9090: %v", err)
	}
	if isLoopbackHost(host) || allowRemote {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address and the endpoints have no authentication; set metrics.allow_remote: true to serve them to other hosts (a kubelet probing the pod)", host)
}

// The widest prefixes a trusted proxy may be given: a proxy is a machine
// or a small pool of them (a /24 of load balancers, a cluster's pod
// network), and anyone inside the prefix may set the trusted header. So
// 0.0.0.0/0 or ::/0 would trust it from anyone who reaches the port:
// no authentication at all. Wider prefixes are refused, without an
// override: no deployment needs one.
const (
	minProxyBits4 = 16 // 65,536 addresses
	minProxyBits6 = 48 // a site
)

// ParseProxy reads a trusted proxy address: an IP (one host) or a CIDR
// prefix no wider than a /16 (IPv4) or a /48 (IPv6).
func ParseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix such as 10.0.0.5 or 10.0.0.0/24", s)
		}
		bits, minBits := p.Bits(), minProxyBits6
		switch {
		case p.Addr().Is4():
			minBits = minProxyBits4
		case p.Addr().Is4In6(): // ::ffff:0:0/96 is every IPv4 address
			bits, minBits = bits-96, minProxyBits4
		}
		if bits < minBits {
			whom := "a whole network of hosts"
			if bits <= 0 {
				whom = "every address"
			}
			return netip.Prefix{}, fmt.Errorf("%q is too wide for a trusted proxy: anyone in it could set the trusted header, so the dashboard would trust it from %s; name the proxies' own addresses (a prefix of at most /%d for IPv4, /%d for IPv6)",
				s, whom, minProxyBits4, minProxyBits6)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix such as 10.0.0.5 or 10.0.0.0/24", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func isLoopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return (ip != nil && ip.IsLoopback()) || host == "localhost"
}

// checkBaseURL checks a Phabricator base URL and returns it without a
// trailing slash. The URL is never echoed: it could carry credentials.
func checkBaseURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", errors.New("not a valid URL; want the Phabricator address such as https://phabricator.example.org")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", errors.New("want an http or https URL such as https://phabricator.example.org")
	}
	if u.User != nil {
		return "", errors.New("must not contain a user name or password; the token comes from " + TokenEnv + " or conduit.token_file")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("must not have a query or fragment; want just the Phabricator address")
	}
	path := strings.TrimRight(u.Path, "/")
	switch {
	case path == "/api" || strings.HasSuffix(path, "/api"):
		return "", errors.New("drop the trailing /api: the bot adds /api/METHOD itself")
	case path != "":
		return "", fmt.Errorf("must not have a path (%q): Phabricator is served from the root of its domain", u.Path)
	}
	u.Path = ""
	return u.String(), nil
}

// RiskOf returns the risk of the named group: the level listed in the
// config's groups, else DefaultRisk. Names match case-insensitively, and
// "acl*x", "acl_x" and "#acl_x" are the same name (see GroupKey). In a
// config built by hand, an invalid (unset) risk counts as not listed, and
// an invalid DefaultRisk as the package DefaultRisk.
func (c *Config) RiskOf(groupName string) Risk {
	key := GroupKey(groupName)
	for name, r := range c.Groups {
		if GroupKey(name) == key && r.Valid() {
			return r
		}
	}
	if !c.DefaultRisk.Valid() {
		return DefaultRisk
	}
	return c.DefaultRisk
}

// SortByRisk returns a copy of groups ordered riskiest first (by RiskOf),
// keeping the given order among groups of equal risk. Tasks and reports
// list groups this way so that the most sensitive access is read first.
func (c *Config) SortByRisk(groups []string) []string {
	out := slices.Clone(groups)
	slices.SortStableFunc(out, func(a, b string) int { return int(c.RiskOf(b)) - int(c.RiskOf(a)) })
	return out
}

// Token returns the Conduit API token: the AUDITBOT_CONDUIT_TOKEN
// environment variable if set and not blank, else the contents of
// conduit.token_file with surrounding whitespace trimmed. getenv and
// readFile default to os.Getenv and a safe read of a regular file
// (safefile.Read) when nil.
//
// When the token file exists on the real file system, Token refuses it if
// its mode lets the group or others read it, before reading it. No error
// ever contains the token.
func (c *Config) Token(getenv func(string) string, readFile func(string) ([]byte, error)) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if readFile == nil {
		readFile = readSecret
	}
	if t := strings.TrimSpace(getenv(TokenEnv)); t != "" {
		return t, nil
	}
	path := c.Conduit.TokenFile
	if path == "" {
		return "", fmt.Errorf("campaigns: no Conduit token: set %s or conduit.token_file in %s", TokenEnv, c.sourceName())
	}
	return ReadSecretFile(path, ConduitTokenSecret, readFile)
}

// Secret names a kind of secret file in ReadSecretFile's errors.
type Secret struct {
	File    string // "Conduit token file"
	Reading string // what is being read: "Conduit token from conduit.token_file"
	Word    string // what the file must hold: "the token"
}

// The secret files auditbot reads.
var (
	ConduitTokenSecret  = Secret{File: "Conduit token file", Reading: "Conduit token from conduit.token_file", Word: "the token"}
	ApproverTokenSecret = Secret{File: "approver's token file", Reading: "the approver's token", Word: "the approver's token"}
	DashboardSecretFile = Secret{File: "dashboard secret file", Reading: "the dashboard secret", Word: "the secret"}
)

// ReadSecretFile reads a one-word secret (a Conduit token, the
// dashboard's shared secret) from path: refused when the group or others
// may read the file, when it is empty, or when it holds more than one
// word. Errors name the file and what is wrong, never its contents; what
// names the kind of file in them. readFile nil is os.ReadFile.
func ReadSecretFile(path string, what Secret, readFile func(string) ([]byte, error)) (string, error) {
	if readFile == nil {
		readFile = readSecret
	}
	if err := checkSecretFileMode(path, what.File); err != nil {
		return "", err
	}
	data, err := readFile(path)
	if err != nil {
		// The error comes from reading, so it names the path, not the contents.
		return "", fmt.Errorf("campaigns: reading %s: %w", what.Reading, err)
	}
	t := strings.TrimSpace(string(data))
	switch {
	case t == "":
		return "", fmt.Errorf("campaigns: %s %s is empty", what.File, path)
	case strings.ContainsAny(t, " \t\r\n"):
		return "", fmt.Errorf("campaigns: %s %s holds more than one word; want only %s", what.File, path, what.Word)
	}
	return t, nil
}

// maxSecretSize bounds a secret file: a token is 32 bytes.
const maxSecretSize = 64 << 10

// readSecret reads a secret file: a regular file of at most
// maxSecretSize bytes, opened without blocking (see safefile).
func readSecret(path string) ([]byte, error) { return safefile.Read(path, maxSecretSize) }

// checkSecretFileMode refuses a secret file that the group or others may
// read (secretModeProblem says which group-readable file is accepted). A
// path that does not exist on the real file system is left to readFile
// (tests pass an in-memory one); Windows has no such mode bits.
func checkSecretFileMode(path, what string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("campaigns: checking the %s: %w", what, err)
	}
	if problem := secretModeProblem(fi.Mode(), ownerOf(fi), thisProcess()); problem != "" {
		return fmt.Errorf("campaigns: %s %s %s; run chmod 600 %s", what, path, problem, path)
	}
	return nil
}

func (c *Config) sourceName() string {
	if c.Source == "" {
		return "the config"
	}
	return c.Source
}
