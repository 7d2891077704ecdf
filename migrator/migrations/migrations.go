// Package migrations holds the application schema as numbered SQL files,
// embedded into the migrator binary.
//
// Each NNNNNN_name.up.sql has a matching .down.sql. Every file runs as one
// implicit transaction (it is sent as a single multi-statement query), so a
// failing file changes nothing; for that reason files must not contain
// transaction control or statements that cannot run in a transaction, such
// as CREATE INDEX CONCURRENTLY. The tests enforce both rules.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
