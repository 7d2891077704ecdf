// Package config is the server process's configuration: parsed once, at
// start, from command-line flags with environment variables as the
// fallback, into a Config whose validate method names the offending flag
// and variable in every message.
//
// The database URL is never printed: Config's String and LogValue methods
// show only the role and the host it connects to.
package config

import (
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
)

// Log formats.
const (
	LogText = "text" // human-readable, for a terminal
	LogJSON = "json" // one JSON object a line, for containers
)

// Limits the validation enforces.
const (
	// MaxSessionCacheTTL bounds how long a revoked Kratos session may still
	// be accepted from the cache.
	MaxSessionCacheTTL = time.Minute
	// MaxSessionGrace bounds how long past its TTL a cached session may be
	// accepted while Kratos cannot answer.
	MaxSessionGrace = 5 * time.Minute
	// MaxMessageSizeLimit bounds --max-message-size: every request may
	// allocate this much before a handler runs.
	MaxMessageSizeLimit = 64 << 20
	// DefaultAccountPurgeAfter is the default grace period before a
	// deleted account is erased.
	DefaultAccountPurgeAfter = 7 * 24 * time.Hour
	// MaxAccountPurgeAfter bounds --account-purge-after.
	MaxAccountPurgeAfter = 366 * 24 * time.Hour
)

// Config is the validated configuration of `server serve`.
type Config struct {
	GRPCAddr    string // gRPC listen address (mTLS)
	GatewayAddr string // HTTP/JSON gateway listen address
	OpsAddr     string // /healthz /readyz /metrics listen address

	// DatabaseURL connects as the server role with a client certificate.
	// It may carry secrets: never print it.
	DatabaseURL string

	GRPCCertFile     string // the gRPC server's certificate (PEM)
	GRPCKeyFile      string // its private key
	GRPCClientCAFile string // CA bundle that client certificates must chain to (server-ca)

	GatewayCertFile     string // the gateway's client certificate for dialing gRPC
	GatewayKeyFile      string // its private key
	GatewayServerCAFile string // CA bundle that the gRPC server's certificate must chain to
	// GatewayServerName is the name the gateway verifies in the gRPC
	// server's certificate; empty means the host it dials.
	GatewayServerName string

	KratosPublicURL string
	KratosAdminURL  string
	// KratosHookKey is the shared API key of Kratos's web hook on the ops
	// port; empty disables the hook route. A secret: never printed.
	KratosHookKey string
	// SessionCacheTTL is how long a verified Kratos session is reused
	// without asking Kratos again; 0 disables the cache.
	SessionCacheTTL time.Duration
	// SessionGrace is how long past SessionCacheTTL a cached session is
	// still accepted while Kratos cannot answer (an outage), never past the
	// session's own expiry; 0 accepts nothing stale.
	SessionGrace time.Duration

	// AllowedOrigin is the one browser origin (scheme://host[:port]) that
	// may send cookie-authenticated state-changing requests to the gateway.
	AllowedOrigin string

	// AccountPurgeAfter is the grace period after an account's deletion:
	// the purge job enqueued with the delete runs this much later.
	AccountPurgeAfter time.Duration
	// RiverUIOperators are the Kratos identity IDs allowed to use River UI
	// on the ops port (docs/worker.md); empty: nobody.
	RiverUIOperators []string

	LogFormat string     // LogText or LogJSON
	LogLevel  slog.Level // debug, info, warn or error
	// LogSample thins the INFO request lines of busy methods.
	LogSample LogSampling

	// GRPCReflection serves gRPC server reflection (v1 and v1alpha) on the
	// gRPC port, behind the same mTLS, so grpcurl, grpcui and Postman find
	// the services without the .proto files.
	GRPCReflection bool

	ShutdownTimeout time.Duration // budget for the whole graceful shutdown
	RPCTimeout      time.Duration // deadline given to RPCs that arrive without one
	MaxMessageSize  int           // bytes, for gRPC messages in both directions and gateway bodies
}

// setting ties a flag to its environment variable.
type setting struct {
	flag, env string
}

// The settings, in the order of the usage text.
var (
	sGRPCAddr         = setting{"grpc-addr", "GRPC_ADDR"}
	sGatewayAddr      = setting{"gateway-addr", "GATEWAY_ADDR"}
	sOpsAddr          = setting{"ops-addr", "OPS_ADDR"}
	sDatabaseURL      = setting{"database-url", dbconn.EnvVar}
	sGRPCCert         = setting{"grpc-tls-cert", "GRPC_TLS_CERT"}
	sGRPCKey          = setting{"grpc-tls-key", "GRPC_TLS_KEY"}
	sGRPCClientCA     = setting{"grpc-client-ca", "GRPC_CLIENT_CA"}
	sGatewayCert      = setting{"gateway-tls-cert", "GATEWAY_TLS_CERT"}
	sGatewayKey       = setting{"gateway-tls-key", "GATEWAY_TLS_KEY"}
	sGatewayServerCA  = setting{"gateway-server-ca", "GATEWAY_SERVER_CA"}
	sGatewayName      = setting{"gateway-server-name", "GATEWAY_SERVER_NAME"}
	sKratosPublic     = setting{"kratos-public-url", "KRATOS_PUBLIC_URL"}
	sKratosAdmin      = setting{"kratos-admin-url", "KRATOS_ADMIN_URL"}
	sKratosHookKey    = setting{"kratos-hook-key", "KRATOS_HOOK_KEY"}
	sSessionTTL       = setting{"session-cache-ttl", "SESSION_CACHE_TTL"}
	sSessionGrace     = setting{"session-grace", "SESSION_GRACE"}
	sAllowedOrigin    = setting{"allowed-origin", "ALLOWED_ORIGIN"}
	sPurgeAfter       = setting{"account-purge-after", "ACCOUNT_PURGE_AFTER"}
	sRiverUIOperators = setting{"riverui-operators", "RIVERUI_OPERATORS"}
	sGRPCReflection   = setting{"grpc-reflection", "GRPC_REFLECTION"}
	sLogFormat        = setting{"log-format", "LOG_FORMAT"}
	sLogLevel         = setting{"log-level", "LOG_LEVEL"}
	sLogSample        = setting{"log-sample", "LOG_SAMPLE"}
	sShutdown         = setting{"shutdown-timeout", "SHUTDOWN_TIMEOUT"}
	sRPCTimeout       = setting{"rpc-timeout", "RPC_TIMEOUT"}
	sMaxMessage       = setting{"max-message-size", "MAX_MESSAGE_SIZE"}
)

func (s setting) String() string { return "--" + s.flag + " (" + s.env + ")" }

// Parse reads the flags of `server serve` from args (flags only, no
// positional arguments) and, for every flag not given, its environment
// variable through getenv, then validates the result. For -h or --help it
// writes the usage text to output and returns flag.ErrHelp; every other
// problem is the returned error, naming the flag or variable.
func Parse(name string, args []string, getenv func(string) string, output io.Writer) (Config, error) {
	c := Config{LogLevel: slog.LevelInfo, LogSample: DefaultLogSampling}
	p := newParser(name)
	p.str(&c.GRPCAddr, sGRPCAddr, "127.0.0.1:25000", "gRPC listen address; clients must present a certificate from --grpc-client-ca")
	p.str(&c.GatewayAddr, sGatewayAddr, "127.0.0.1:26000", "HTTP/JSON gateway listen address")
	p.str(&c.OpsAddr, sOpsAddr, "127.0.0.1:27000", "ops listen address: /healthz /readyz /metrics, River UI (keep it private)")
	p.str(&c.DatabaseURL, sDatabaseURL, "", "PostgreSQL URL of the server role, with sslmode=verify-full and certificate files")
	p.str(&c.GRPCCertFile, sGRPCCert, "", "gRPC server certificate file (PEM), reloaded when it changes")
	p.str(&c.GRPCKeyFile, sGRPCKey, "", "gRPC server private key file (PEM)")
	p.str(&c.GRPCClientCAFile, sGRPCClientCA, "", "CA bundle that gRPC client certificates must chain to (server-ca)")
	p.str(&c.GatewayCertFile, sGatewayCert, "", "gateway client certificate file for dialing gRPC (PEM)")
	p.str(&c.GatewayKeyFile, sGatewayKey, "", "gateway client private key file (PEM)")
	p.str(&c.GatewayServerCAFile, sGatewayServerCA, "", "CA bundle that the gRPC server certificate must chain to")
	p.str(&c.GatewayServerName, sGatewayName, "", "name to verify in the gRPC server certificate (default: the host the gateway dials)")
	p.str(&c.KratosPublicURL, sKratosPublic, "http://127.0.0.1:4433", "Ory Kratos public API URL")
	p.str(&c.KratosAdminURL, sKratosAdmin, "http://127.0.0.1:4434", "Ory Kratos admin API URL")
	p.str(&c.KratosHookKey, sKratosHookKey, "", "shared key of Kratos's identity web hook on the ops port; empty disables the hook (prefer the variable: flags show in ps)")
	p.dur(&c.SessionCacheTTL, sSessionTTL, 5*time.Second, "how long a verified session is reused without asking Kratos; 0 disables the cache")
	p.dur(&c.SessionGrace, sSessionGrace, 30*time.Second, "how long past its cache TTL a session is still accepted while Kratos cannot answer (never past its expiry); 0 disables")
	p.str(&c.AllowedOrigin, sAllowedOrigin, "http://127.0.0.1:8080", "the browser origin allowed to send cookie-authenticated writes (CSRF check)")
	p.dur(&c.AccountPurgeAfter, sPurgeAfter, DefaultAccountPurgeAfter, "grace period between deleting an account and the purge job erasing it for good")
	var operators string
	p.str(&operators, sRiverUIOperators, "", "Kratos identity IDs (comma-separated) allowed to use River UI on the ops port; empty: nobody")
	p.boolean(&c.GRPCReflection, sGRPCReflection, true, "serve gRPC server reflection on the gRPC port (behind its mTLS); false hides the service schema")
	p.str(&c.LogFormat, sLogFormat, LogText, "log format: text or json")
	p.level(&c.LogLevel, sLogLevel)
	p.text(&c.LogSample, sLogSample, DefaultLogSampling,
		`request log lines per method and second: FIRST/THEREAFTER writes the first FIRST INFO lines, then one in THEREAFTER (0: none); "off" writes all`)
	p.dur(&c.ShutdownTimeout, sShutdown, 20*time.Second, "time allowed for the graceful shutdown")
	p.dur(&c.RPCTimeout, sRPCTimeout, 30*time.Second, "deadline for RPCs that arrive without one")
	p.int(&c.MaxMessageSize, sMaxMessage, 4<<20, "largest gRPC message and gateway request body, in bytes")

	if err := p.parse(args, getenv, output); err != nil {
		return Config{}, err
	}
	c.RiverUIOperators = splitList(operators)
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// parser ties flags to their environment variables: a flag given on the
// command line wins, else its variable, else its default.
type parser struct {
	name  string
	fs    *flag.FlagSet
	envOf map[string]string // flag name → variable
}

func newParser(name string) *parser {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, not printed
	return &parser{name: name, fs: fs, envOf: map[string]string{}}
}

func (p *parser) str(ptr *string, s setting, def, usage string) {
	p.fs.StringVar(ptr, s.flag, def, usage+" (env "+s.env+")")
	p.envOf[s.flag] = s.env
}

func (p *parser) boolean(ptr *bool, s setting, def bool, usage string) {
	p.fs.BoolVar(ptr, s.flag, def, usage+" (env "+s.env+")")
	p.envOf[s.flag] = s.env
}

func (p *parser) dur(ptr *time.Duration, s setting, def time.Duration, usage string) {
	p.fs.DurationVar(ptr, s.flag, def, usage+" (env "+s.env+")")
	p.envOf[s.flag] = s.env
}

func (p *parser) int(ptr *int, s setting, def int, usage string) {
	p.fs.IntVar(ptr, s.flag, def, usage+" (env "+s.env+")")
	p.envOf[s.flag] = s.env
}

func (p *parser) text(ptr encoding.TextUnmarshaler, s setting, def encoding.TextMarshaler, usage string) {
	p.fs.TextVar(ptr, s.flag, def, usage+" (env "+s.env+")")
	p.envOf[s.flag] = s.env
}

func (p *parser) level(ptr *slog.Level, s setting) {
	p.fs.TextVar(ptr, s.flag, slog.LevelInfo, "log level: debug, info, warn or error (env "+s.env+")")
	p.envOf[s.flag] = s.env
}

// parse parses args, then sets every flag not given from its variable.
func (p *parser) parse(args []string, getenv func(string) string, output io.Writer) error {
	if err := p.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			p.fs.SetOutput(output)
			fmt.Fprintf(output, "Usage: %s [flags]\n\nEvery flag falls back to the environment variable named in its description.\n\n", p.name)
			p.fs.PrintDefaults()
		}
		return err
	}
	if p.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %s takes flags only", p.fs.Arg(0), p.name)
	}
	given := map[string]bool{}
	p.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	p.fs.VisitAll(func(f *flag.Flag) {
		env := p.envOf[f.Name]
		v := getenv(env)
		if given[f.Name] || v == "" {
			return
		}
		if err := p.fs.Set(f.Name, v); err != nil {
			// Only non-string settings can fail to parse, so the value
			// quoted here is never the database URL.
			kind, _ := flag.UnquoteUsage(f)
			if kind == "" { // a boolean flag
				kind = "boolean (true or false)"
			}
			errs = append(errs, fmt.Errorf("%s=%q: invalid %s for --%s: %w", env, v, kind, f.Name, err))
		}
	})
	return errors.Join(errs...)
}

// splitList splits a comma-separated list, dropping blanks and spaces
// around items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// validate reports every invalid field, each message naming its flag and
// environment variable.
func (c *Config) validate() error {
	var errs []error
	bad := func(s setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", s, fmt.Sprintf(format, args...)))
	}

	addrs := map[string]setting{}
	for _, a := range []struct {
		s setting
		v string
	}{{sGRPCAddr, c.GRPCAddr}, {sGatewayAddr, c.GatewayAddr}, {sOpsAddr, c.OpsAddr}} {
		if err := checkAddr(a.v); err != nil {
			bad(a.s, "%v", err)
			continue
		}
		if prev, dup := addrs[a.v]; dup && !strings.HasSuffix(a.v, ":0") {
			bad(a.s, "same address as %s", prev)
		}
		addrs[a.v] = a.s
	}

	if strings.TrimSpace(c.DatabaseURL) == "" {
		bad(sDatabaseURL, "required: the PostgreSQL URL of the server role (go tool mage dev:env prints SERVER_DATABASE_URL)")
	} else if _, err := dbconn.Params(c.DatabaseURL); err != nil {
		bad(sDatabaseURL, "%v", err)
	}

	for _, f := range []struct {
		s setting
		v string
	}{
		{sGRPCCert, c.GRPCCertFile}, {sGRPCKey, c.GRPCKeyFile}, {sGRPCClientCA, c.GRPCClientCAFile},
		{sGatewayCert, c.GatewayCertFile}, {sGatewayKey, c.GatewayKeyFile}, {sGatewayServerCA, c.GatewayServerCAFile},
	} {
		if strings.TrimSpace(f.v) == "" {
			bad(f.s, "required: a PEM file path")
		}
	}

	for _, u := range []struct {
		s setting
		v string
	}{{sKratosPublic, c.KratosPublicURL}, {sKratosAdmin, c.KratosAdminURL}} {
		if err := checkHTTPURL(u.v); err != nil {
			bad(u.s, "%v", err)
		}
	}

	switch {
	case c.SessionCacheTTL < 0:
		bad(sSessionTTL, "must not be negative (0 disables the cache)")
	case c.SessionCacheTTL > MaxSessionCacheTTL:
		bad(sSessionTTL, "at most %s: a revoked session stays valid that long", MaxSessionCacheTTL)
	}
	switch {
	case c.SessionGrace < 0:
		bad(sSessionGrace, "must not be negative (0 disables it)")
	case c.SessionGrace > MaxSessionGrace:
		bad(sSessionGrace, "at most %s: during an outage a revoked session stays valid that long past the cache TTL", MaxSessionGrace)
	}

	if origin, err := normalizeOrigin(c.AllowedOrigin); err != nil {
		bad(sAllowedOrigin, "%v", err)
	} else {
		c.AllowedOrigin = origin
	}

	if c.AccountPurgeAfter < 0 || c.AccountPurgeAfter > MaxAccountPurgeAfter {
		bad(sPurgeAfter, "must be between 0 and %s, got %s", MaxAccountPurgeAfter, c.AccountPurgeAfter)
	}
	for _, id := range c.RiverUIOperators {
		if !isUUID(id) {
			bad(sRiverUIOperators, "%q is not a Kratos identity ID (a UUID)", id)
		}
	}
	checkLog(bad, c.LogFormat)
	if c.ShutdownTimeout <= 0 {
		bad(sShutdown, "must be positive")
	}
	if c.RPCTimeout <= 0 {
		bad(sRPCTimeout, "must be positive")
	}
	if c.MaxMessageSize < 1024 || c.MaxMessageSize > MaxMessageSizeLimit {
		bad(sMaxMessage, "must be between 1024 and %d bytes, got %d", MaxMessageSizeLimit, c.MaxMessageSize)
	}
	return errors.Join(errs...)
}

func checkLog(bad func(setting, string, ...any), format string) {
	if format != LogText && format != LogJSON {
		bad(sLogFormat, "must be %q or %q, got %q", LogText, LogJSON, format)
	}
}

// isUUID reports whether s is a UUID in canonical text form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("must be host:port, got %q", a)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("invalid host %q", host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", errors.Unwrap(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http(s) URL, got %q", raw)
	}
	return nil
}

// normalizeOrigin checks that raw is a web origin, scheme://host[:port], as
// browsers send it in the Origin header, and returns it in lower case.
func normalizeOrigin(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", errors.Unwrap(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("must be an origin such as https://app.example.com (scheme, host and optional port, nothing else), got %q", raw)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// String describes the configuration without secrets.
func (c Config) String() string {
	return fmt.Sprintf("grpc=%s gateway=%s ops=%s database=%s", c.GRPCAddr, c.GatewayAddr, c.OpsAddr, c.databaseSummary())
}

// GoString is String, so that %#v does not print the database URL either.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }

// LogValue logs the configuration without secrets: the database appears
// as role@host:port/database only.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("grpc_addr", c.GRPCAddr),
		slog.String("gateway_addr", c.GatewayAddr),
		slog.String("ops_addr", c.OpsAddr),
		slog.String("database", c.databaseSummary()),
		slog.String("kratos_public_url", c.KratosPublicURL),
		slog.Duration("session_cache_ttl", c.SessionCacheTTL),
		slog.Duration("session_grace", c.SessionGrace),
		slog.String("allowed_origin", c.AllowedOrigin),
		slog.Duration("account_purge_after", c.AccountPurgeAfter),
		slog.Int("riverui_operators", len(c.RiverUIOperators)),
		slog.String("log_sample", c.LogSample.String()),
		slog.Duration("rpc_timeout", c.RPCTimeout),
		slog.Int("max_message_size", c.MaxMessageSize),
	)
}

func (c Config) databaseSummary() string { return summarize(c.DatabaseURL) }

// summarize shows a database URL as role@host:port/database.
func summarize(databaseURL string) string {
	p, err := dbconn.Params(databaseURL)
	if err != nil {
		return "(unparsable)"
	}
	s := p["user"] + "@" + p["host"]
	if p["port"] != "" {
		s += ":" + p["port"]
	}
	return s + "/" + p["dbname"]
}
