-- Least-privilege access for a team warehouse: roles, limits and the workspace row policy.
-- Applied by initdb/10-access.sh (as the admin user, in the warehouse database, so unqualified
-- names are that database's tables). Users and their passwords are made there from secrets:
-- nothing here is a credential.

-- ingest: what `loader load` / `loader sqs-poll` need. Inserting into the Null ingest table drives
-- the materialized views, which run with their definer's rights (SQL SECURITY DEFINER, the
-- default), so the loader needs no right on the event tables themselves. It reads per-chunk counts
-- and the ledger (dedup and "already loaded?"), and schema_migrations (is the schema current?).
CREATE ROLE IF NOT EXISTS ingest;
GRANT INSERT ON kubernetes_audit_logs_ingest TO ingest;
GRANT INSERT, SELECT ON ingest_ledger TO ingest;
GRANT SELECT ON ingest_chunks TO ingest;
GRANT SELECT ON schema_migrations TO ingest;

-- analyst: read-only, bounded. Analysts and scheduled detections query the event tables; limits
-- stop one query from starving the server. readonly = 2 lets clients set harmless settings
-- (formats, time zone) but never write; the limits can be lowered, not raised past MAX.
CREATE SETTINGS PROFILE IF NOT EXISTS analyst_limits SETTINGS
    readonly = 2,
    max_execution_time = 60 MAX 300,
    max_memory_usage = 4000000000 MAX 8000000000,
    max_result_rows = 1000000 MAX 10000000,
    result_overflow_mode = 'throw',
    max_rows_to_read = 10000000000,
    max_concurrent_queries_for_user = 8;
CREATE ROLE IF NOT EXISTS analyst SETTINGS PROFILE 'analyst_limits';
GRANT SELECT ON kubernetes_audit_logs TO analyst;
GRANT SELECT ON kubernetes_audit_logs_rejects TO analyst;
GRANT SELECT ON ingest_ledger TO analyst;
-- On a cluster (`loader schema apply --on-cluster`) the two event tables are Distributed over *_local
-- tables, and with the cluster secret each shard runs its part of a query as the user who sent it:
-- the same grant and policy must hold there. On one server these names match no table, which
-- ClickHouse allows (grants and policies are by name), so one file serves both layouts.
GRANT SELECT ON kubernetes_audit_logs_local TO analyst;
GRANT SELECT ON kubernetes_audit_logs_rejects_local TO analyst;

-- dashboard: the team's Grafana (deploy/grafana/), read-only under the analyst limits, on exactly the
-- tables its panels query. Findings (detections) carry no workspaceID, so they cannot be filtered per
-- workspace: granting them to analyst would show every tenant the others' findings. The dashboard
-- therefore reads every workspace, like the detect user, and no row policy applies to it.
CREATE ROLE IF NOT EXISTS dashboard SETTINGS PROFILE 'analyst_limits';
GRANT SELECT ON kubernetes_audit_logs TO dashboard;
GRANT SELECT ON kubernetes_audit_logs_rejects TO dashboard;
GRANT SELECT ON ingest_ledger TO dashboard;
GRANT SELECT ON detections TO dashboard;
GRANT SELECT ON kubernetes_audit_logs_local TO dashboard;
GRANT SELECT ON kubernetes_audit_logs_rejects_local TO dashboard;

-- Tenants: an analyst user is bound to a workspace by the constant custom setting SQL_workspace
-- (CREATE USER ... SETTINGS SQL_workspace = 'team-a' CONST). Restrictive policies AND with any other,
-- so an analyst sees only its workspace's rows; an analyst without the setting gets an error, not rows.
-- Users with no policy (admin, loader) read every row (users_without_row_policies_can_read_rows).
CREATE ROW POLICY IF NOT EXISTS analyst_workspace ON kubernetes_audit_logs
    AS RESTRICTIVE FOR SELECT USING workspaceID = getSetting('SQL_workspace') TO analyst;
CREATE ROW POLICY IF NOT EXISTS analyst_workspace ON kubernetes_audit_logs_rejects
    AS RESTRICTIVE FOR SELECT USING workspaceID = getSetting('SQL_workspace') TO analyst;
CREATE ROW POLICY IF NOT EXISTS analyst_workspace ON ingest_ledger
    AS RESTRICTIVE FOR SELECT USING workspaceID = getSetting('SQL_workspace') TO analyst;
CREATE ROW POLICY IF NOT EXISTS analyst_workspace ON kubernetes_audit_logs_local
    AS RESTRICTIVE FOR SELECT USING workspaceID = getSetting('SQL_workspace') TO analyst;
CREATE ROW POLICY IF NOT EXISTS analyst_workspace ON kubernetes_audit_logs_rejects_local
    AS RESTRICTIVE FOR SELECT USING workspaceID = getSetting('SQL_workspace') TO analyst;
