#!/usr/bin/env bash
# PostgreSQL pg_trgm baseline for the customer-search benchmark (benches/search.rs).
#
# Usage: bash benches/pg_trgm.sh WORK
#   WORK holds rows.csv and queries.tsv as benches/search.rs writes them; this script writes
#   WORK/pg-results.tsv (class, caller, n, p50, p99, max, mean in ms) and prints a table.
#   `ZHUDAI_BENCH_PG=1 cargo bench --bench search` runs it at the end of the bench and prints
#   the ratios; or keep the files with `ZHUDAI_BENCH_KEEP=/tmp/sb cargo bench --bench search`
#   and run `bash benches/pg_trgm.sh /tmp/sb` by hand.
# Environment: ZHUDAI_BENCH_PG_QUERIES queries per class and caller (default 300).
#
# What it does: installs PostgreSQL from Debian packages if no /usr/lib/postgresql/*/bin exists
# (apt-get, needs root), initdb's a throwaway cluster in a temp dir (UTF-8, C.UTF-8 locale so
# pg_trgm sees CJK characters as word characters; run as the `postgres` user when started as
# root), Unix socket only, loads the rows with COPY, builds GIN gin_trgm_ops indexes on name,
# company and address and btree indexes on phone4, city, dept and the pinyin columns
# (text_pattern_ops), then runs each query class as PostgreSQL's best case for that class
# (the class is known, so only the one predicate is asked, LIMIT 20, no ORDER BY, no count):
#   name      name ILIKE '%frag%'
#   initials  initials LIKE 'zsf%'          (pinyin initials precomputed by zhudai's analysis)
#   pinyin    pinyin LIKE 'zhangw%'         (full pinyin precomputed by zhudai's analysis)
#   phone4    phone4 = '1234'
#   company   company ILIKE '%word%'
#   mixed     city = 'city' AND name ILIKE '%frag%'
# and for the department-scoped salesperson the same with AND dept = 1.
# Latency is the client round trip over the Unix socket as psql's \timing reports it, one
# query at a time on one connection. The cluster is stopped and deleted at exit.
set -euo pipefail

WORK=${1:?usage: pg_trgm.sh WORK}
WORK=$(cd "$WORK" && pwd)
N=${ZHUDAI_BENCH_PG_QUERIES:-300}
[ -f "$WORK/rows.csv" ] && [ -f "$WORK/queries.tsv" ] || {
    echo "pg_trgm.sh: $WORK/rows.csv or queries.tsv missing" >&2
    exit 1
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(pg_bin)" ]; then
    echo "pg_trgm.sh: installing PostgreSQL from Debian packages"
    apt-get install -y postgresql postgresql-contrib >/dev/null
fi
BIN=$(pg_bin)
[ -n "$BIN" ] || { echo "pg_trgm.sh: no PostgreSQL found" >&2; exit 1; }

PGTMP=$(mktemp -d /tmp/zhudai-pg.XXXXXX)
PORT=$((50000 + RANDOM % 10000))
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$PGTMP"
cleanup() {
    as_pg "$BIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGTMP"
}
trap cleanup EXIT

as_pg "$BIN/initdb" -D "$PGTMP/data" --encoding=UTF8 --locale=C.UTF-8 -A trust -U postgres >/dev/null
as_pg "$BIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w \
    -o "-p $PORT -k $PGTMP -c listen_addresses='' -c shared_buffers=256MB -c work_mem=16MB -c jit=off" \
    start >/dev/null
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$PGTMP" -p "$PORT" -U postgres -d postgres)
VERSION=$("${PSQL[@]}" -At -c "show server_version")
ROWS=$(wc -l <"$WORK/rows.csv")
echo "PostgreSQL $VERSION (pg_trgm), throwaway cluster, $ROWS rows"

start=$(date +%s.%N)
"${PSQL[@]}" <<SQL
CREATE EXTENSION pg_trgm;
CREATE TABLE customers (id text PRIMARY KEY, name text, company text, address text, city text,
                        phone4 text, pinyin text, initials text, dept int);
\copy customers FROM '$WORK/rows.csv' WITH (FORMAT text)
SQL
loaded=$(date +%s.%N)
"${PSQL[@]}" <<'SQL'
CREATE INDEX customers_name_trgm ON customers USING gin (name gin_trgm_ops);
CREATE INDEX customers_company_trgm ON customers USING gin (company gin_trgm_ops);
CREATE INDEX customers_address_trgm ON customers USING gin (address gin_trgm_ops);
CREATE INDEX customers_phone4 ON customers (phone4);
CREATE INDEX customers_city ON customers (city);
CREATE INDEX customers_dept ON customers (dept);
CREATE INDEX customers_pinyin ON customers (pinyin text_pattern_ops);
CREATE INDEX customers_initials ON customers (initials text_pattern_ops);
VACUUM ANALYZE customers;
SQL
indexed=$(date +%s.%N)
SIZE=$("${PSQL[@]}" -At -c "select pg_size_pretty(pg_total_relation_size('customers'))")
printf 'load (COPY) %.1f s, indexes + VACUUM ANALYZE %.1f s, table with indexes %s\n' \
    "$(echo "$loaded - $start" | bc)" "$(echo "$indexed - $loaded" | bc)" "$SIZE"

sql_for() { # class caller query → SQL
    local class=$1 caller=$2 q=${3//\'/\'\'} scope=""
    [ "$caller" = sales ] && scope=" AND dept = 1"
    case $class in
        name) echo "SELECT id, name FROM customers WHERE name ILIKE '%$q%'$scope LIMIT 20;" ;;
        initials) echo "SELECT id, name FROM customers WHERE initials LIKE '$q%'$scope LIMIT 20;" ;;
        pinyin) echo "SELECT id, name FROM customers WHERE pinyin LIKE '$q%'$scope LIMIT 20;" ;;
        phone4) echo "SELECT id, name FROM customers WHERE phone4 = '$q'$scope LIMIT 20;" ;;
        company) echo "SELECT id, name FROM customers WHERE company ILIKE '%$q%'$scope LIMIT 20;" ;;
        mixed)
            local city=${q%% *} frag=${q#* }
            echo "SELECT id, name FROM customers WHERE city = '$city' AND name ILIKE '%$frag%'$scope LIMIT 20;"
            ;;
    esac
}

OUT="$WORK/pg-results.tsv"
printf 'class\tcaller\tn\tp50_ms\tp99_ms\tmax_ms\tmean_ms\n' >"$OUT"
printf '%-16s %6s %9s %9s %9s %9s  %s\n' class/caller n "p50 ms" "p99 ms" "max ms" "mean ms" "plan (one EXPLAIN ANALYZE)"
for class in name initials pinyin phone4 company mixed; do
    mapfile -t pool < <(awk -F'\t' -v c="$class" '$1 == c { print $2 }' "$WORK/queries.tsv")
    [ "${#pool[@]}" -gt 0 ] || continue
    for caller in admin sales; do
        file="$PGTMP/q.sql"
        { echo '\o /dev/null'; echo '\timing on'
          for ((i = 0; i < N; i++)); do sql_for "$class" "$caller" "${pool[$(((i * 7919) % ${#pool[@]}))]}"; done
        } >"$file"
        # Warm-up pass (cache), then the timed pass.
        "${PSQL[@]}" -f "$file" >/dev/null
        times=$("${PSQL[@]}" -f "$file" | awk '/^Time:/ { print $2 }')
        plan=$("${PSQL[@]}" -At -c "EXPLAIN (ANALYZE, COSTS OFF) $(sql_for "$class" "$caller" "${pool[0]}")" |
            grep -E 'Scan|Execution Time' | sed -E 's/ +\(actual.*//; s/^ *(->)? *//' | paste -sd ';' -)
        stats=$(echo "$times" | sort -g | awk '{ v[NR] = $1; s += $1 } END {
            p50 = v[int(NR * 0.50) + 1]; i99 = int(NR * 0.99) + 1; if (i99 > NR) i99 = NR;
            printf "%d\t%.3f\t%.3f\t%.3f\t%.3f", NR, p50, v[i99], v[NR], s / NR }')
        printf '%s\t%s\t%s\n' "$class" "$caller" "$stats" >>"$OUT"
        IFS=$'\t' read -r n p50 p99 max mean <<<"$stats"
        printf '%-16s %6s %9s %9s %9s %9s  %s\n' "$class/$caller" "$n" "$p50" "$p99" "$max" "$mean" "$plan"
    done
done
echo "wrote $OUT"
