package config_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/config"
)

// secretURL stands for a database URL with something secret in it; no
// output may contain it.
const secretURL = "postgres://server@db.internal:5432/app?sslmode=verify-full&sslrootcert=/pki/ca.crt&sslcert=/pki/tls.crt&sslkey=/pki/tls.key&password=hunter2"

// requiredEnv holds the settings without defaults.
func requiredEnv() map[string]string {
	return map[string]string{
		"DATABASE_URL":      secretURL,
		"GRPC_TLS_CERT":     "/pki/server-grpc-tls/tls.crt",
		"GRPC_TLS_KEY":      "/pki/server-grpc-tls/tls.key",
		"GRPC_CLIENT_CA":    "/pki/server-grpc-tls/ca.crt",
		"GATEWAY_TLS_CERT":  "/pki/server-gateway-tls/tls.crt",
		"GATEWAY_TLS_KEY":   "/pki/server-gateway-tls/tls.key",
		"GATEWAY_SERVER_CA": "/pki/server-gateway-tls/ca.crt",
	}
}

func parse(args []string, env map[string]string) (config.Config, string, error) {
	var out bytes.Buffer
	c, err := config.Parse("server serve", args, func(k string) string { return env[k] }, &out)
	return c, out.String(), err
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, _, err := parse(nil, requiredEnv())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:25000", c.GRPCAddr)
	require.Equal(t, "127.0.0.1:26000", c.GatewayAddr)
	require.Equal(t, "127.0.0.1:27000", c.OpsAddr)
	require.Equal(t, secretURL, c.DatabaseURL)
	require.Equal(t, "http://127.0.0.1:4433", c.KratosPublicURL)
	require.Equal(t, "http://127.0.0.1:4434", c.KratosAdminURL)
	require.Equal(t, 5*time.Second, c.SessionCacheTTL)
	require.Equal(t, 30*time.Second, c.SessionGrace)
	require.Equal(t, "http://127.0.0.1:8080", c.AllowedOrigin)
	require.Equal(t, config.LogText, c.LogFormat)
	require.Equal(t, slog.LevelInfo, c.LogLevel)
	require.Equal(t, config.LogSampling{First: 100, Thereafter: 100}, c.LogSample)
	require.Equal(t, 20*time.Second, c.ShutdownTimeout)
	require.Equal(t, 30*time.Second, c.RPCTimeout)
	require.Equal(t, 4<<20, c.MaxMessageSize)
	require.Empty(t, c.GatewayServerName)
	require.True(t, c.GRPCReflection, "reflection on unless turned off")
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	t.Parallel()
	env := requiredEnv()
	env["GRPC_ADDR"] = "127.0.0.1:1"
	env["SESSION_CACHE_TTL"] = "2s"
	env["LOG_FORMAT"] = "json"
	env["LOG_LEVEL"] = "debug"
	env["MAX_MESSAGE_SIZE"] = "2048"
	env["LOG_SAMPLE"] = "5/0"
	c, _, err := parse([]string{"--grpc-addr", "127.0.0.1:2", "--session-cache-ttl=0", "--allowed-origin", "HTTPS://App.Example.com/"}, env)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:2", c.GRPCAddr, "flag wins")
	require.Equal(t, time.Duration(0), c.SessionCacheTTL, "flag set to zero wins")
	require.Equal(t, "https://app.example.com", c.AllowedOrigin, "origin normalized")
	require.Equal(t, config.LogJSON, c.LogFormat, "env used when no flag")
	require.Equal(t, slog.LevelDebug, c.LogLevel)
	require.Equal(t, 2048, c.MaxMessageSize)
	require.Equal(t, config.LogSampling{First: 5}, c.LogSample)

	c, _, err = parse([]string{"--log-sample", "off"}, env)
	require.NoError(t, err)
	require.True(t, c.LogSample.Off(), "flag wins; off writes every line")

	env["GRPC_REFLECTION"] = "false"
	c, _, err = parse(nil, env)
	require.NoError(t, err)
	require.False(t, c.GRPCReflection, "env turns reflection off")
	c, _, err = parse([]string{"--grpc-reflection=true"}, env)
	require.NoError(t, err)
	require.True(t, c.GRPCReflection, "flag wins")
	env["GRPC_REFLECTION"] = "nope"
	_, _, err = parse(nil, env)
	require.ErrorContains(t, err, `GRPC_REFLECTION="nope": invalid boolean (true or false) for --grpc-reflection`)
}

func TestInvalidSettingsNameTheirFlagAndVariable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"missing database URL", nil, map[string]string{"DATABASE_URL": ""},
			[]string{"--database-url (DATABASE_URL): required"}},
		{"missing certificate files", nil, map[string]string{"GRPC_TLS_CERT": "", "GATEWAY_SERVER_CA": " "},
			[]string{"--grpc-tls-cert (GRPC_TLS_CERT): required", "--gateway-server-ca (GATEWAY_SERVER_CA): required"}},
		{"bad address", []string{"--grpc-addr", "localhost"}, nil,
			[]string{`--grpc-addr (GRPC_ADDR): must be host:port, got "localhost"`}},
		{"bad port", []string{"--ops-addr", "127.0.0.1:http2"}, nil,
			[]string{`--ops-addr (OPS_ADDR): invalid port "http2"`}},
		{"same address twice", []string{"--ops-addr", "127.0.0.1:26000"}, nil,
			[]string{"--ops-addr (OPS_ADDR): same address as --gateway-addr (GATEWAY_ADDR)"}},
		{"Kratos URL not absolute", []string{"--kratos-public-url", "/kratos"}, nil,
			[]string{`--kratos-public-url (KRATOS_PUBLIC_URL): must be an absolute http(s) URL, got "/kratos"`}},
		{"negative cache TTL", []string{"--session-cache-ttl", "-1s"}, nil,
			[]string{"--session-cache-ttl (SESSION_CACHE_TTL): must not be negative"}},
		{"cache TTL too long", nil, map[string]string{"SESSION_CACHE_TTL": "10m"},
			[]string{"--session-cache-ttl (SESSION_CACHE_TTL): at most 1m0s"}},
		{"negative session grace", []string{"--session-grace", "-1s"}, nil,
			[]string{"--session-grace (SESSION_GRACE): must not be negative"}},
		{"session grace too long", nil, map[string]string{"SESSION_GRACE": "6m"},
			[]string{"--session-grace (SESSION_GRACE): at most 5m0s"}},
		{"origin with a path", []string{"--allowed-origin", "https://app.example.com/app"}, nil,
			[]string{"--allowed-origin (ALLOWED_ORIGIN): must be an origin"}},
		{"origin without scheme", []string{"--allowed-origin", "app.example.com"}, nil,
			[]string{"--allowed-origin (ALLOWED_ORIGIN): must be an origin"}},
		{"log format", []string{"--log-format", "xml"}, nil,
			[]string{`--log-format (LOG_FORMAT): must be "text" or "json", got "xml"`}},
		{"shutdown timeout", []string{"--shutdown-timeout", "0s"}, nil,
			[]string{"--shutdown-timeout (SHUTDOWN_TIMEOUT): must be positive"}},
		{"RPC timeout", nil, map[string]string{"RPC_TIMEOUT": "-5s"},
			[]string{"--rpc-timeout (RPC_TIMEOUT): must be positive"}},
		{"message size", []string{"--max-message-size", "10"}, nil,
			[]string{"--max-message-size (MAX_MESSAGE_SIZE): must be between 1024 and 67108864 bytes, got 10"}},
		{"unparsable env duration", nil, map[string]string{"SHUTDOWN_TIMEOUT": "soon"},
			[]string{`SHUTDOWN_TIMEOUT="soon": invalid duration for --shutdown-timeout`}},
		{"unparsable env number", nil, map[string]string{"MAX_MESSAGE_SIZE": "4MiB"},
			[]string{`MAX_MESSAGE_SIZE="4MiB": invalid int for --max-message-size`}},
		{"unparsable env level", nil, map[string]string{"LOG_LEVEL": "loud"},
			[]string{`LOG_LEVEL="loud": invalid value for --log-level`}},
		{"log sample without a slash", nil, map[string]string{"LOG_SAMPLE": "100"},
			[]string{`LOG_SAMPLE="100": invalid value for --log-sample: want "off" or FIRST/THEREAFTER`}},
		{"log sample first zero", []string{"--log-sample", "0/10"}, nil,
			[]string{`invalid value "0/10" for flag -log-sample: FIRST must be a whole number from 1 to 1000000`}},
		{"log sample negative thereafter", nil, map[string]string{"LOG_SAMPLE": "10/-1"},
			[]string{`THEREAFTER must be a whole number from 0 to 1000000, got "-1"`}},
		{"log sample words", nil, map[string]string{"LOG_SAMPLE": "some/all"},
			[]string{`FIRST must be a whole number from 1 to 1000000 (or the whole setting "off"), got "some"`}},
		{"unparsable flag", []string{"--rpc-timeout", "x"}, nil,
			[]string{`invalid value "x" for flag -rpc-timeout`}},
		{"unknown flag", []string{"--nope"}, nil,
			[]string{"flag provided but not defined: -nope"}},
		{"positional argument", []string{"extra"}, nil,
			[]string{`unexpected argument "extra": server serve takes flags only`}},
		{"several problems at once", []string{"--log-format", "xml", "--rpc-timeout", "0s"}, nil,
			[]string{"--log-format (LOG_FORMAT)", "--rpc-timeout (RPC_TIMEOUT)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := requiredEnv()
			for k, v := range tc.env {
				env[k] = v
			}
			_, out, err := parse(tc.args, env)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			require.NotContains(t, err.Error(), "hunter2")
			require.Empty(t, out, "errors are returned, not printed")
		})
	}
}

func TestBadDatabaseURLIsNotRepeated(t *testing.T) {
	t.Parallel()
	env := requiredEnv()
	env["DATABASE_URL"] = "postgres://server:hunter2@[::1/app"
	_, _, err := parse(nil, env)
	require.ErrorContains(t, err, "--database-url (DATABASE_URL): database URL is malformed")
	require.NotContains(t, err.Error(), "hunter2")
}

func TestHelp(t *testing.T) {
	t.Parallel()
	_, out, err := parse([]string{"-h"}, nil)
	require.True(t, errors.Is(err, flag.ErrHelp))
	require.Contains(t, out, "Usage: server serve [flags]")
	require.Contains(t, out, "(env DATABASE_URL)")
	require.Contains(t, out, "(env GRPC_CLIENT_CA)")
}

func TestPrintingNeverShowsSecrets(t *testing.T) {
	t.Parallel()
	env := requiredEnv()
	env["KRATOS_HOOK_KEY"] = "hook-key-0123456789abcdef0123456789abcdef"
	c, _, err := parse(nil, env)
	require.NoError(t, err)
	require.Equal(t, env["KRATOS_HOOK_KEY"], c.KratosHookKey)

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", c)
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logs.String()} {
		require.NotContains(t, s, "hunter2")
		require.NotContains(t, s, "sslkey")
		require.NotContains(t, s, "hook-key")
	}
	require.Contains(t, logs.String(), `"database":"server@db.internal:5432/app"`)
	require.True(t, strings.Contains(c.String(), "database=server@db.internal:5432/app"), c.String())
}
