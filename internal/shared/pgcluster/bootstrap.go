package pgcluster

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Database is one database and who may connect to it.
type Database struct {
	Name    string
	Owner   string
	Connect []string // roles besides the owner allowed to connect
}

// Plan lists the roles and databases a cluster must have.
type Plan struct {
	Roles     []string
	Databases []Database
}

// Bootstrap creates the plan's roles and databases when missing and resets
// their attributes, so running it again is harmless. Roles log in without a
// password (pg_hba allows them only with a certificate) and hold no special
// attributes; a password set by hand is removed. Roles keep INHERIT: a
// database owner needs it to use the public schema, which PostgreSQL 15
// gives to pg_database_owner.
func Bootstrap(ctx context.Context, conn *pgx.Conn, plan Plan) error {
	for _, role := range plan.Roles {
		id := pgx.Identifier{role}.Sanitize()
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
			return fmt.Errorf("look up role %s: %w", role, err)
		}
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE ROLE "+id+" LOGIN"); err != nil {
				return fmt.Errorf("create role %s: %w", role, err)
			}
		}
		if _, err := conn.Exec(ctx, "ALTER ROLE "+id+" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD NULL"); err != nil {
			return fmt.Errorf("reset attributes of role %s: %w", role, err)
		}
	}
	for _, db := range plan.Databases {
		if err := CreateDatabase(ctx, conn, db, ""); err != nil {
			return err
		}
	}
	return nil
}

// CreateDatabase creates db (from template, when not empty) unless it
// exists, then makes sure only its owner and its Connect roles may connect.
func CreateDatabase(ctx context.Context, conn *pgx.Conn, db Database, template string) error {
	id := pgx.Identifier{db.Name}.Sanitize()
	owner := pgx.Identifier{db.Owner}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", db.Name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", db.Name, err)
	}
	if !exists {
		sql := "CREATE DATABASE " + id + " OWNER " + owner
		if template != "" {
			sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("create database %s: %w", db.Name, err)
		}
	}
	stmts := []string{
		"ALTER DATABASE " + id + " OWNER TO " + owner,
		"REVOKE ALL ON DATABASE " + id + " FROM PUBLIC",
	}
	// Privileges granted by hand to any other role are revoked too, so
	// that only the plan decides who may connect.
	rows, err := conn.Query(ctx, `SELECT DISTINCT a.grantee::regrole::text
		FROM pg_database d, aclexplode(d.datacl) a
		WHERE d.datname = $1 AND a.grantee <> 0 AND a.grantee <> d.datdba`, db.Name)
	if err != nil {
		return fmt.Errorf("read privileges on database %s: %w", db.Name, err)
	}
	grantees, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read privileges on database %s: %w", db.Name, err)
	}
	for _, g := range grantees {
		// regrole's text form is already quoted where needed.
		stmts = append(stmts, "REVOKE ALL ON DATABASE "+id+" FROM "+g)
	}
	for _, r := range db.Connect {
		stmts = append(stmts, "GRANT CONNECT ON DATABASE "+id+" TO "+pgx.Identifier{r}.Sanitize())
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("set privileges on database %s: %w", db.Name, err)
		}
	}
	return nil
}
