package pgcluster

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// hbaLines returns the rules of a pg_hba.conf, comments and blanks dropped,
// each split into fields.
func hbaLines(conf []byte) [][]string {
	var rules [][]string
	for _, l := range strings.Split(string(conf), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		rules = append(rules, strings.Fields(l))
	}
	return rules
}

func TestHBA(t *testing.T) {
	t.Parallel()
	c := &Cluster{cfg: Config{HBA: []HBARule{
		CertRule("app", "migrator,server", "127.0.0.1/32"),
		CertRule("kratos", "kratos", "10.0.0.0/8"),
	}}}
	conf := c.hba()
	rules := hbaLines(conf)

	require.Equal(t, [][]string{
		{"local", "all", "postgres", "peer", "map=bootstrap"},
		{"hostssl", "app", "migrator,server", "127.0.0.1/32", "cert"},
		{"hostssl", "kratos", "kratos", "10.0.0.0/8", "cert"},
		{"local", "all", "all", "reject"},
		{"host", "all", "all", "0.0.0.0/0", "reject"},
		{"host", "all", "all", "::/0", "reject"},
	}, rules)

	// No password method anywhere, nor trust.
	method := regexp.MustCompile(`(?i)\b(md5|scram-sha-256|password|trust|ident|ldap|radius|pam)\b`)
	for _, r := range rules {
		require.NotRegexp(t, method, strings.Join(r, " "))
	}
	require.NotContains(t, string(conf), "scram")
	// Every TCP rule that lets anyone in requires TLS and a certificate.
	for _, r := range rules {
		if r[0] != "local" && r[len(r)-1] != "reject" {
			require.Equal(t, "hostssl", r[0], "%v", r)
			require.Equal(t, "cert", r[len(r)-1], "%v", r)
		}
	}
	// The superuser only over the socket.
	for _, r := range rules[1:] {
		require.NotEqual(t, Superuser, r[2], "no rule but the first names the superuser: %v", r)
	}
}

func TestHBAWithoutRules(t *testing.T) {
	t.Parallel()
	// With no certificate rules nobody gets in over TCP.
	rules := hbaLines((&Cluster{}).hba())
	require.Len(t, rules, 4)
	for _, r := range rules[1:] {
		require.Equal(t, "reject", r[len(r)-1])
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	c := &Cluster{cfg: Config{Listen: "127.0.0.1", Port: 15432, SocketDir: "/run/it's here", Settings: map[string]string{
		"max_connections": "300",
		"ssl":             "off", // callers may override, and it shows
	}}}
	got := string(c.settings())
	for _, want := range []string{
		"listen_addresses = '127.0.0.1'\n",
		"port = 15432\n",
		"unix_socket_directories = '/run/it''s here'\n",
		"unix_socket_permissions = 0700\n",
		"ssl_cert_file = 'server.crt'\n",
		"ssl_key_file = 'server.key'\n",
		"ssl_ca_file = 'client-ca.crt'\n",
		"ssl_min_protocol_version = 'TLSv1.3'\n",
		"max_connections = 300\n",
		"ssl = off\n",
	} {
		require.Contains(t, got, want)
	}
	require.Equal(t, got, string(c.settings()), "rendering is deterministic")

	// Lines are sorted by key, so a rewrite is byte-identical.
	var keys []string
	for _, l := range strings.Split(strings.TrimSpace(got), "\n")[1:] {
		k, _, _ := strings.Cut(l, " = ")
		keys = append(keys, k)
	}
	require.IsNonDecreasing(t, keys)
}

func TestIdent(t *testing.T) {
	t.Parallel()
	me := currentUserName()
	require.NotEmpty(t, me)

	// Running as root: the server's OS user and the caller may both act as
	// the superuser.
	c := &Cluster{cfg: Config{RunAs: "pgrunner"}, cred: &syscall.Credential{}}
	require.Equal(t, "# Written by groundwork's pgcluster; changes are overwritten.\n"+
		"bootstrap pgrunner postgres\n"+
		"bootstrap "+me+" postgres\n", string(c.ident()))

	// Not root: the caller runs the server; one mapping.
	c = &Cluster{cfg: Config{RunAs: "pgrunner"}}
	require.Equal(t, "# Written by groundwork's pgcluster; changes are overwritten.\n"+
		"bootstrap "+me+" postgres\n", string(c.ident()))
}

func TestDebianBinDirs(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, d := range []string{"9.6", "13", "15", "16", "common", "9"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d, "bin"), 0o755))
	}
	require.Equal(t, []string{
		filepath.Join(root, "16", "bin"), filepath.Join(root, "15", "bin"),
		filepath.Join(root, "13", "bin"), filepath.Join(root, "9", "bin"),
	}, debianBinDirs(root), "newest major version first; other names ignored")
	require.Empty(t, debianBinDirs(filepath.Join(root, "missing")))
}

func TestBinariesComplete(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := Binaries{Dir: dir}
	require.False(t, b.complete())
	for _, name := range []string{"initdb", "postgres"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755))
	}
	require.False(t, b.complete(), "pg_ctl is missing")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pg_ctl"), []byte("#!/bin/sh\n"), 0o644))
	require.False(t, b.complete(), "pg_ctl is not executable")
	require.NoError(t, os.Chmod(filepath.Join(dir, "pg_ctl"), 0o755))
	require.True(t, b.complete())
	require.Equal(t, filepath.Join(dir, "pg_ctl"), b.Path("pg_ctl"))
}
