#!/usr/bin/env bash
# Capacity of one node hosting many agencies (docs/hosting.md): N zhudai processes, each with its
# own data directory of CUSTOMERS customers, on this machine at once.
#
# Usage: bash benches/hosting.sh            (release binary at target/release/zhudai)
# Environment: ZHUDAI_BIN (binary), N (instances, default 8), CUSTOMERS (per agency, default
# 100000), SECS (seconds per wrk run, default 10), WORK (scratch directory, default
# /var/tmp/zhudai-hosting; deleted at the end unless KEEP=1).
#
# What it does:
#   1. one agency: an admin, `zhudai demo --customers CUSTOMERS --csv`, `zhudai import`;
#   2. copies it N times (each copy is an agency of its own: own store, index, key, port);
#   3. starts N servers, logs in to each, warms each with one list and one search request;
#   4. reads each server's VmRSS / RssAnon (idle, after warm-up);
#   5. baseline: wrk (1 connection) on instance 1 alone, customer list then a name search;
#   6. load: the same wrk runs against all N instances at once;
#   7. reads RSS again and prints one table.
# The baseline and the loaded figures come from the same run on the same data; the ratio is
# what sharing the node costs each agency. Needs wrk (Debian package `wrk`).
set -euo pipefail

BIN=${ZHUDAI_BIN:-target/release/zhudai}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
N=${N:-8}
CUSTOMERS=${CUSTOMERS:-100000}
SECS=${SECS:-10}
WORK=${WORK:-/var/tmp/zhudai-hosting}
PASSWORD='Hosting-Bench-2026-Admin'
command -v wrk >/dev/null || { echo "hosting.sh: install wrk (apt-get install wrk)" >&2; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

echo "== one agency of $CUSTOMERS customers ($(date +%T))"
T="$WORK/template"
echo "$PASSWORD" > "$WORK/pw"
ZHUDAI_LOG=warn "$BIN" user add --data "$T" --username boss --role admin --password-file "$WORK/pw" >/dev/null
start=$(date +%s)
ZHUDAI_LOG=warn "$BIN" demo --data "$T" --customers "$CUSTOMERS" --csv "$WORK/c.csv" >/dev/null 2>&1
# The entry time column is left out so that releases before RFC 3339 entry times read the file.
printf '[columns]\n"创建时间" = "ignore"\n' > "$WORK/map.toml"
ZHUDAI_LOG=warn "$BIN" import "$WORK/c.csv" --data "$T" --owner boss --mapping "$WORK/map.toml" 2>/dev/null | tail -1
echo "   generated and imported in $(( $(date +%s) - start )) s; data directory $(du -sh "$T" | cut -f1)"

for i in $(seq 1 "$N"); do cp -a "$T" "$WORK/a$i"; done

port() { echo $((19400 + $1)); }
for i in $(seq 1 "$N"); do
    ZHUDAI_LOG=warn ZHUDAI_SERVER_LISTEN="127.0.0.1:$(port "$i")" \
        "$BIN" serve --data "$WORK/a$i" >"$WORK/a$i.log" 2>&1 &
    PIDS+=($!)
done
for i in $(seq 1 "$N"); do
    for _ in $(seq 1 600); do
        curl -fs "http://127.0.0.1:$(port "$i")/api/v1/health" >/dev/null 2>&1 && break
        sleep 0.2
    done
done

declare -A COOKIE
for i in $(seq 1 "$N"); do
    jar="$WORK/cj$i"
    curl -fs -c "$jar" -H 'content-type: application/json' \
        -d "{\"username\":\"boss\",\"password\":\"$PASSWORD\"}" \
        "http://127.0.0.1:$(port "$i")/api/v1/auth/login" >/dev/null
    COOKIE[$i]=$(awk '$6 ~ /zhudai/ {print $6"="$7}' "$jar" | tail -1)
    for path in "/api/v1/customers?limit=20" "/api/v1/search?q=%E7%8E%8B"; do
        curl -fs -H "Cookie: ${COOKIE[$i]}" "http://127.0.0.1:$(port "$i")$path" >/dev/null
    done
done

rss() { # pid -> "VmRSS RssAnon" in MB
    awk '/^VmRSS|^RssAnon/ {printf "%d ", $2/1024}' "/proc/$1/status"
}
rss_table() {
    local total=0 anon=0
    for p in "${PIDS[@]}"; do
        read -r r a <<<"$(rss "$p")"
        total=$((total + r)); anon=$((anon + a))
    done
    echo "$total $anon"
}
read -r idle_total idle_anon <<<"$(rss_table)"

wrk_p99() { # url cookie -> "p50_ms p99_ms req_per_s"
    wrk -t1 -c1 -d"${SECS}s" --latency -H "Cookie: $2" "$1" | awk '
        function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) } /Requests\/sec/ { rps = $2 }
        END { printf "%.2f %.2f %.0f\n", p50, p99, rps }'
}

declare -A BASE
for name in list search; do
    path="/api/v1/customers?limit=20"
    [ "$name" = search ] && path="/api/v1/search?q=%E7%8E%8B"
    BASE[$name]=$(wrk_p99 "http://127.0.0.1:$(port 1)$path" "${COOKIE[1]}")
done

declare -A LOADED
for name in list search; do
    path="/api/v1/customers?limit=20"
    [ "$name" = search ] && path="/api/v1/search?q=%E7%8E%8B"
    WRK=()
    for i in $(seq 1 "$N"); do
        wrk_p99 "http://127.0.0.1:$(port "$i")$path" "${COOKIE[$i]}" >"$WORK/w-$name-$i" &
        WRK+=($!)
    done
    wait "${WRK[@]}"
    LOADED[$name]=$(cat "$WORK"/w-"$name"-* | awk '
        { p50 += $1; if ($2 > worst) worst = $2; p99 += $2; rps += $3; n++ }
        END { printf "%.2f %.2f %.2f %.0f\n", p50/n, p99/n, worst, rps }')
done
read -r busy_total busy_anon <<<"$(rss_table)"

echo
echo "== $N agencies × $CUSTOMERS customers on $(nproc) cores ($(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-8s | %-28s | %-44s | %s\n' request "one instance alone: p50 / p99" \
    "all $N busy at once: p50 / p99 (mean, worst)" "throughput alone → all"
for name in list search; do
    read -r b50 b99 brps <<<"${BASE[$name]}"
    read -r l50 l99 lworst lrps <<<"${LOADED[$name]}"
    printf '%-8s | %6s / %6s ms            | %6s / %6s ms (worst %s)            | %s → %s req/s (p99 ×%s)\n' \
        "$name" "$b50" "$b99" "$l50" "$l99" "$lworst" "$brps" "$lrps" \
        "$(awk -v a="$l99" -v b="$b99" 'BEGIN { printf "%.1f", a / b }')"
done
echo "memory, all $N: idle VmRSS $idle_total MB (anon $idle_anon) = $((idle_total / N)) MB each;" \
    "after load $busy_total MB (anon $busy_anon) = $((busy_total / N)) MB each"
