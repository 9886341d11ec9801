/**
 * The SQL that gives a consumer its own login role owning a database of the same name (RDS, where no API manages
 * roles). Run by psql as the master user with `-v owner=<name>` and the password in OWNER_PASSWORD; idempotent, so
 * re-running it only re-asserts the password and privileges. test/constructs/database-owner-sql.test.ts runs it against
 * a real PostgreSQL as a non-superuser with CREATEROLE and CREATEDB, as RDS's master user is.
 */
export const DATABASE_OWNER_SQL = String.raw`\getenv password OWNER_PASSWORD
\if :{?password}
\else
  \warn 'OWNER_PASSWORD is not set'
  SELECT 1/0;
\endif
SELECT format('CREATE ROLE %I LOGIN', :'owner') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
-- (SUPERUSER, REPLICATION and BYPASSRLS are superuser-only to set, and a role created here never has them.)
ALTER ROLE :"owner" WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'password';
-- PostgreSQL 16+ lets a CREATEROLE user hand a database to a role only once it may SET ROLE to it.
GRANT :"owner" TO CURRENT_USER;
SELECT format('CREATE DATABASE %I OWNER %I', :'owner', :'owner') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'owner') \gexec
ALTER DATABASE :"owner" OWNER TO :"owner";
-- Only its owner connects to it; and no other role connects to the master's own databases (MLflow's).
REVOKE ALL ON DATABASE :"owner" FROM PUBLIC;
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', datname) FROM pg_database
  WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND NOT datistemplate \gexec
`;

const OWNER_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws unless `name` is a lowercase PostgreSQL identifier usable unquoted. */
export function validateOwnerName(what: string, name: string): void {
  if (!OWNER_NAME.test(name)) throw new Error(`${what} "${name}" must be lowercase letters, digits and '_', starting with a letter or '_', at most 63 characters`);
}
