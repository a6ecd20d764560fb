#!/bin/bash
# First start of the clickhouse container (docker-entrypoint-initdb.d): roles, limits and row policies
# from access.sql, then the users, with passwords from the environment (compose reads them from .env
# or the shell). Only SHA-256 hashes reach ClickHouse, so no password appears in a query log.
#   LOADER_PASSWORD, DETECT_PASSWORD   the loader and detect service users
#   ANALYSTS="alice:team-a bob:team-b" analyst users and their workspaces; ANALYST_PASSWORD for all
#                                      (per user: ANALYST_PASSWORD_ALICE wins when set)
#   GRAFANA_CLICKHOUSE_PASSWORD        the grafana user (role dashboard), made only when set
set -euo pipefail
: "${LOADER_PASSWORD:?set LOADER_PASSWORD}" "${DETECT_PASSWORD:?set DETECT_PASSWORD}"
client=(clickhouse client --user "${CLICKHOUSE_USER}" --password "${CLICKHOUSE_PASSWORD}" --database "${CLICKHOUSE_DB}")
hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

"${client[@]}" --queries-file /etc/clickhouse-server/access.sql
# A granted role is a default role of a new user (its default roles are ALL).
"${client[@]}" --query "CREATE USER IF NOT EXISTS loader IDENTIFIED WITH sha256_hash BY '$(hash "$LOADER_PASSWORD")'"
"${client[@]}" --query "GRANT ingest TO loader"
# detect runs the saved queries over every workspace and keeps its own tables (findings, checkpoints):
# it may create and fill tables, but never write the events, rejects, ledger or ingest path.
"${client[@]}" --query "CREATE USER IF NOT EXISTS detect IDENTIFIED WITH sha256_hash BY '$(hash "$DETECT_PASSWORD")'"
"${client[@]}" --queries-file /dev/stdin <<SQL
GRANT SELECT, INSERT, CREATE TABLE ON ${CLICKHOUSE_DB}.* TO detect;
REVOKE INSERT ON ${CLICKHOUSE_DB}.kubernetes_audit_logs FROM detect;
REVOKE INSERT ON ${CLICKHOUSE_DB}.kubernetes_audit_logs_rejects FROM detect;
REVOKE INSERT ON ${CLICKHOUSE_DB}.kubernetes_audit_logs_local FROM detect;
REVOKE INSERT ON ${CLICKHOUSE_DB}.kubernetes_audit_logs_rejects_local FROM detect;
REVOKE INSERT ON ${CLICKHOUSE_DB}.kubernetes_audit_logs_ingest FROM detect;
REVOKE INSERT ON ${CLICKHOUSE_DB}.ingest_ledger FROM detect;
REVOKE INSERT ON ${CLICKHOUSE_DB}.ingest_chunks FROM detect;
SQL
if [[ -n ${GRAFANA_CLICKHOUSE_PASSWORD:-} ]]; then
    "${client[@]}" --query "CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_hash BY '$(hash "$GRAFANA_CLICKHOUSE_PASSWORD")'"
    "${client[@]}" --query "GRANT dashboard TO grafana"
fi
for entry in ${ANALYSTS:-}; do
    name=${entry%%:*} workspace=${entry#*:}
    [[ $name =~ ^[a-z_][a-z0-9_]*$ && $workspace =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "bad ANALYSTS entry: $entry" >&2; exit 1; }
    var="ANALYST_PASSWORD_${name^^}"; password=${!var:-${ANALYST_PASSWORD:?set ANALYST_PASSWORD or $var}}
    "${client[@]}" --query "CREATE USER IF NOT EXISTS ${name} IDENTIFIED WITH sha256_hash BY '$(hash "$password")'
                            SETTINGS SQL_workspace = '${workspace}' CONST"
    "${client[@]}" --query "GRANT analyst TO ${name}"
done
