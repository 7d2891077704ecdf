package config_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/config"
)

func parseWorker(args []string, env map[string]string) (config.Worker, string, error) {
	var out bytes.Buffer
	c, err := config.ParseWorker("server worker", args, func(k string) string { return env[k] }, &out)
	return c, out.String(), err
}

func TestWorkerDefaults(t *testing.T) {
	t.Parallel()
	c, _, err := parseWorker(nil, map[string]string{"DATABASE_URL": secretURL})
	require.NoError(t, err)
	require.Equal(t, config.Worker{
		OpsAddr:                "127.0.0.1:27001",
		DatabaseURL:            secretURL,
		KratosAdminURL:         "http://127.0.0.1:4434",
		ReconcileUsersSchedule: "*/15 * * * *",
		MaxWorkers:             10,
		LogFormat:              config.LogText,
		LogLevel:               slog.LevelInfo,
		ShutdownTimeout:        30 * time.Second,
	}, c)
}

func TestWorkerFlagsAndEnvironment(t *testing.T) {
	t.Parallel()
	c, _, err := parseWorker([]string{"--max-workers", "3", "--reconcile-users-schedule", "off"}, map[string]string{
		"DATABASE_URL": secretURL, "MAX_WORKERS": "50", "OPS_ADDR": "0.0.0.0:9001", "LOG_FORMAT": "json",
		"RECONCILE_USERS_SCHEDULE": "@hourly", "SHUTDOWN_TIMEOUT": "1m",
	})
	require.NoError(t, err)
	require.Equal(t, 3, c.MaxWorkers, "flag wins")
	require.Equal(t, config.ScheduleOff, c.ReconcileUsersSchedule)
	require.Equal(t, "0.0.0.0:9001", c.OpsAddr)
	require.Equal(t, config.LogJSON, c.LogFormat)
	require.Equal(t, time.Minute, c.ShutdownTimeout)

	for _, s := range []string{"@every 90s", "0 3 * * MON-FRI", "CRON_TZ=Europe/Berlin 0 3 * * *"} {
		c, _, err := parseWorker(nil, map[string]string{"DATABASE_URL": secretURL, "RECONCILE_USERS_SCHEDULE": s})
		require.NoError(t, err, s)
		require.Equal(t, s, c.ReconcileUsersSchedule)
	}
}

func TestWorkerInvalidSettingsNameTheirFlagAndVariable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"missing database URL", nil, map[string]string{"DATABASE_URL": ""}, "--database-url (DATABASE_URL): required"},
		{"bad ops address", []string{"--ops-addr", "27001"}, nil, `--ops-addr (OPS_ADDR): must be host:port, got "27001"`},
		{"bad Kratos URL", []string{"--kratos-admin-url", "kratos:4434"}, nil, "--kratos-admin-url (KRATOS_ADMIN_URL): must be an absolute http(s) URL"},
		{"bad schedule", nil, map[string]string{"RECONCILE_USERS_SCHEDULE": "every hour"}, `--reconcile-users-schedule (RECONCILE_USERS_SCHEDULE): cron schedule "every hour"`},
		{"schedule too fast", []string{"--reconcile-users-schedule", "@every 100ms"}, nil, "--reconcile-users-schedule (RECONCILE_USERS_SCHEDULE): cron schedule \"@every 100ms\""},
		{"no workers", []string{"--max-workers", "0"}, nil, "--max-workers (MAX_WORKERS): must be between 1 and 1000, got 0"},
		{"too many workers", nil, map[string]string{"MAX_WORKERS": "5000"}, "--max-workers (MAX_WORKERS): must be between 1 and 1000, got 5000"},
		{"unparsable workers", nil, map[string]string{"MAX_WORKERS": "ten"}, `MAX_WORKERS="ten": invalid int for --max-workers`},
		{"shutdown timeout", []string{"--shutdown-timeout", "0s"}, nil, "--shutdown-timeout (SHUTDOWN_TIMEOUT): must be positive"},
		{"log format", nil, map[string]string{"LOG_FORMAT": "yaml"}, `--log-format (LOG_FORMAT): must be "text" or "json", got "yaml"`},
		{"serve's flag", []string{"--grpc-addr", "127.0.0.1:1"}, nil, "flag provided but not defined: -grpc-addr"},
		{"positional argument", []string{"now"}, nil, `unexpected argument "now": server worker takes flags only`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"DATABASE_URL": secretURL}
			for k, v := range tc.env {
				env[k] = v
			}
			_, out, err := parseWorker(tc.args, env)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "hunter2")
			require.Empty(t, out)
		})
	}
}

func TestWorkerHelpAndSecrets(t *testing.T) {
	t.Parallel()
	_, out, err := parseWorker([]string{"--help"}, nil)
	require.True(t, errors.Is(err, flag.ErrHelp))
	require.Contains(t, out, "Usage: server worker [flags]")
	require.Contains(t, out, "(env RECONCILE_USERS_SCHEDULE)")

	c, _, err := parseWorker(nil, map[string]string{"DATABASE_URL": secretURL})
	require.NoError(t, err)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", c)
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logs.String()} {
		require.NotContains(t, s, "hunter2")
		require.NotContains(t, s, "sslkey")
	}
	require.Contains(t, logs.String(), `"database":"server@db.internal:5432/app"`)
}

func TestServeJobSettings(t *testing.T) {
	t.Parallel()
	c, _, err := parse(nil, requiredEnv())
	require.NoError(t, err)
	require.Equal(t, 7*24*time.Hour, c.AccountPurgeAfter)
	require.Empty(t, c.RiverUIOperators)

	env := requiredEnv()
	env["RIVERUI_OPERATORS"] = " 6f1f4a0e-8a4b-4c1e-9d3a-0b7c2e5f9a11, ,0D9E8C7B-6A5F-4E3D-8C2B-1A0F9E8D7C6B "
	c, _, err = parse([]string{"--account-purge-after", "0s"}, env)
	require.NoError(t, err)
	require.Zero(t, c.AccountPurgeAfter)
	require.Equal(t, []string{"6f1f4a0e-8a4b-4c1e-9d3a-0b7c2e5f9a11", "0D9E8C7B-6A5F-4E3D-8C2B-1A0F9E8D7C6B"}, c.RiverUIOperators)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--account-purge-after", "-1h"}, "--account-purge-after (ACCOUNT_PURGE_AFTER): must be between 0 and 8784h0m0s, got -1h0m0s"},
		{[]string{"--account-purge-after", "9000h"}, "--account-purge-after (ACCOUNT_PURGE_AFTER): must be between 0 and 8784h0m0s"},
		{[]string{"--riverui-operators", "alice@example.com"}, `--riverui-operators (RIVERUI_OPERATORS): "alice@example.com" is not a Kratos identity ID (a UUID)`},
	} {
		_, _, err := parse(tc.args, requiredEnv())
		require.ErrorContains(t, err, tc.want)
	}
}
