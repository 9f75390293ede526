#!/bin/sh
# The same check when the vendor only sends SHA-256 hashes: each is the SHA-256 (hex) of the
# normalised number, 11 digits without +86 or separators, e.g. for 13800138000:
#   printf %s 13800138000 | sha256sum
# Hashing your own list the same way:
#   while read -r n; do printf %s "$n" | sha256sum | cut -d' ' -f1; done < numbers.txt > hashes.txt
#   ZHUDAI=… TOKEN=… ./check-hashed.sh hashes.txt
set -eu
: "${ZHUDAI:?}" "${TOKEN:?}"
list=${1:?usage: check-hashed.sh FILE}
head -n 1000 "$list" | jq -R -s '{sha256: (split("\n") | map(select(length > 0)))}' |
  curl -sS --fail-with-body -X POST "$ZHUDAI/api/v1/leads/check" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d @- |
  jq -r '.results[] | "\(.input)\t\(if .error then "error: " + .error elif .exists then "customer" else "new" end)"'
