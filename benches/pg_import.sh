#!/usr/bin/env bash
# PostgreSQL baseline for the import benchmark: the same CSV file loaded with COPY, then the
# indexes a customer table needs for the same lookups (trigram GIN on name, company and address
# for fragment search; btree on the phone for the duplicate check and on city).
#
# Usage: bash benches/pg_import.sh FILE.csv
#   FILE.csv is what `zhudai demo --customers N --csv FILE.csv` writes (UTF-8 with a BOM,
#   Chinese headers). Prints one line `pg_import copy=S index=S total=S size=BYTES` (seconds)
#   that benches/import.sh reads, after a readable summary.
#
# What it does: installs PostgreSQL from Debian packages if no /usr/lib/postgresql/*/bin exists
# (apt-get, needs root), initdb's a throwaway cluster in a temp dir (UTF-8, C.UTF-8 locale so
# pg_trgm sees CJK characters as word characters; run as the `postgres` user when started as
# root; fsync off, as a bulk load would be run), Unix socket only, and deletes it at exit.
set -euo pipefail

FILE=${1:?usage: pg_import.sh FILE.csv}
FILE=$(cd "$(dirname "$FILE")" && pwd)/$(basename "$FILE")

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(pg_bin)" ]; then
    echo "pg_import.sh: installing PostgreSQL from Debian packages" >&2
    apt-get install -y postgresql postgresql-contrib >/dev/null
fi
BIN=$(pg_bin)
[ -n "$BIN" ] || { echo "pg_import.sh: no PostgreSQL found" >&2; exit 1; }

PGTMP=$(mktemp -d /tmp/zhudai-pgi.XXXXXX)
PORT=$((50000 + RANDOM % 10000))
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
    as_pg "$BIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGTMP"
}
trap cleanup EXIT
# The CSV without its BOM and header, readable by the postgres user.
tail -n +2 "$FILE" >"$PGTMP/rows.csv"
HEADER=$(head -1 "$FILE" | sed 's/^\xEF\xBB\xBF//' | tr -d '\r')
[ "$(id -u)" = 0 ] && chown -R postgres "$PGTMP"

as_pg "$BIN/initdb" -D "$PGTMP/data" --encoding=UTF8 --locale=C.UTF-8 -A trust -U postgres >/dev/null
as_pg "$BIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w \
    -o "-p $PORT -k $PGTMP -c listen_addresses='' -c shared_buffers=256MB -c maintenance_work_mem=256MB -c fsync=off -c jit=off" \
    start >/dev/null
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$PGTMP" -p "$PORT" -U postgres -d postgres)

# One text column per header, named c1…cN; the columns the indexes need found by header.
IFS=',' read -r -a COLS <<<"$HEADER"
col_of() { # header name → cN
    for i in "${!COLS[@]}"; do [ "${COLS[$i]}" = "$1" ] && { echo "c$((i + 1))"; return; }; done
    echo "pg_import.sh: no column $1 in $HEADER" >&2
    exit 1
}
DEFS=$(for i in "${!COLS[@]}"; do printf 'c%d text,' $((i + 1)); done)
NAMES=$(for i in "${!COLS[@]}"; do printf 'c%d,' $((i + 1)); done)
NAME=$(col_of 姓名)
PHONE=$(col_of 手机号)
CITY=$(col_of 城市)
ADDRESS=$(col_of 地址)
COMPANY=$(col_of 单位名称)

now() { date +%s.%N; }
start=$(now)
"${PSQL[@]}" <<SQL
CREATE EXTENSION pg_trgm;
CREATE TABLE customers (id bigserial PRIMARY KEY, ${DEFS%,});
\copy customers (${NAMES%,}) FROM '$PGTMP/rows.csv' WITH (FORMAT csv)
SQL
loaded=$(now)
"${PSQL[@]}" <<SQL
CREATE INDEX ON customers USING gin ($NAME gin_trgm_ops);
CREATE INDEX ON customers USING gin ($COMPANY gin_trgm_ops);
CREATE INDEX ON customers USING gin ($ADDRESS gin_trgm_ops);
CREATE INDEX ON customers ($PHONE);
CREATE INDEX ON customers ($CITY);
SQL
indexed=$(now)
SIZE=$("${PSQL[@]}" -At -c "select pg_total_relation_size('customers')")
ROWS=$("${PSQL[@]}" -At -c "select count(*) from customers")
VERSION=$("${PSQL[@]}" -At -c "show server_version")
COPY_S=$(echo "$loaded - $start" | bc)
INDEX_S=$(echo "$indexed - $loaded" | bc)
TOTAL_S=$(echo "$indexed - $start" | bc)
printf 'PostgreSQL %s: %s rows, COPY %.1f s, indexes %.1f s, total %.1f s, table with indexes %d MB\n' \
    "$VERSION" "$ROWS" "$COPY_S" "$INDEX_S" "$TOTAL_S" $((SIZE / 1048576))
printf 'pg_import copy=%.2f index=%.2f total=%.2f size=%d\n' "$COPY_S" "$INDEX_S" "$TOTAL_S" "$SIZE"
