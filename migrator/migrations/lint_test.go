package migrations_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/migrations"
)

var fileRE = regexp.MustCompile(`^(\d{6})_([a-z0-9_]+)\.(up|down)\.sql$`)

// forbidden are statements that break "one file, one transaction":
// transaction control, and statements PostgreSQL refuses to run inside a
// transaction block.
var forbidden = regexp.MustCompile(`(?i)\b(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|START\s+TRANSACTION|CONCURRENTLY|VACUUM)\b`)

// TestMigrationFiles holds the rules of the package doc for every embedded
// file.
func TestMigrationFiles(t *testing.T) {
	t.Parallel()
	entries, err := fs.ReadDir(migrations.FS, ".")
	require.NoError(t, err)
	require.NotEmpty(t, entries)

	type pair struct{ name, up, down string }
	byVersion := map[string]*pair{}
	for _, e := range entries {
		m := fileRE.FindStringSubmatch(e.Name())
		require.NotNil(t, m, "%s: migration files are named NNNNNN_lower_snake_name.up.sql / .down.sql", e.Name())
		p := byVersion[m[1]]
		if p == nil {
			p = &pair{name: m[2]}
			byVersion[m[1]] = p
		}
		require.Equal(t, p.name, m[2], "%s: version %s has files with different names", e.Name(), m[1])
		body, err := fs.ReadFile(migrations.FS, e.Name())
		require.NoError(t, err)
		require.NotEmpty(t, strings.TrimSpace(sqlCode(string(body))), "%s holds no SQL", e.Name())
		if bad := forbidden.FindString(sqlCode(string(body))); bad != "" {
			t.Errorf("%s contains %q: each file runs as one transaction, so it must not control transactions or run statements that cannot run in one", e.Name(), bad)
		}
		if m[3] == "up" {
			p.up = e.Name()
		} else {
			p.down = e.Name()
		}
	}
	for v, p := range byVersion {
		require.NotEmpty(t, p.up, "version %s has a down file but no up file", v)
		require.NotEmpty(t, p.down, "%s has no down file", p.up)
	}
}

// sqlCode blanks out comments, string literals, quoted identifiers and
// dollar-quoted bodies, so that only SQL keywords remain to be checked: a
// BEGIN in a comment or in a PL/pgSQL function body is no transaction.
func sqlCode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "--"):
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return b.String()
			}
			i += end
		case strings.HasPrefix(s[i:], "/*"):
			// Block comments nest in PostgreSQL.
			depth := 0
			for i < len(s) {
				if strings.HasPrefix(s[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(s[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			b.WriteByte(' ')
		case s[i] == '\'' || s[i] == '"':
			q := s[i]
			i++
			for i < len(s) {
				if s[i] == q && i+1 < len(s) && s[i+1] == q {
					i += 2 // doubled quote
					continue
				}
				if s[i] == q {
					i++
					break
				}
				i++
			}
			b.WriteString(" x ")
		case s[i] == '$':
			if tag := dollarTag(s[i:]); tag != "" {
				end := strings.Index(s[i+len(tag):], tag)
				if end < 0 {
					return b.String()
				}
				i += len(tag) + end + len(tag)
				b.WriteString(" x ")
				continue
			}
			b.WriteByte(s[i])
			i++
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

var dollarTagRE = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)?\$`)

func dollarTag(s string) string { return dollarTagRE.FindString(s) }

func TestSQLCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		flagged  bool
	}{
		{"Plain", "CREATE TABLE a (id int);", false},
		{"Begin", "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;", true},
		{"LowerCase", "begin;", true},
		{"StartTransaction", "start  transaction;", true},
		{"Concurrently", "CREATE INDEX CONCURRENTLY a_idx ON a (id);", true},
		{"RollbackAfterComment", "-- note\nROLLBACK;", true},
		{"LineComment", "-- BEGIN; and COMMIT; are not allowed\nCREATE TABLE a (id int);", false},
		{"BlockComment", "/* no BEGIN /* nested COMMIT */ here */ CREATE TABLE a (id int);", false},
		{"AfterBlockComment", "/* x */ COMMIT;", true},
		{"StringLiteral", "INSERT INTO notes VALUES ('remember to COMMIT', 'it''s BEGIN');", false},
		{"QuotedIdentifier", `CREATE TABLE "begin" (id int);`, false},
		{"FunctionBody", "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN NEW;\nEND;\n$$;", false},
		{"TaggedFunctionBody", "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;", false},
		{"AfterFunctionBody", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; COMMIT;", true},
		{"IdentifierContainingKeyword", "CREATE TABLE committed_orders (began_at timestamptz);", false},
		{"PositionalParameterIsNotDollarQuote", "SELECT $1 BEGIN", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.flagged, forbidden.MatchString(sqlCode(tt.in)), "code seen: %q", sqlCode(tt.in))
		})
	}
}
