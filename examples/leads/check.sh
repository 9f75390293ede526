#!/bin/sh
# The lead-vendor duplicate check (撞库): which numbers of a vendor's list are already the
# firm's customers. Needs an API token of a user whose role holds `lead.check` (the built-in
# administrator; or give it to an integration user's role on 角色管理).
#   ZHUDAI=https://crm.example.com TOKEN=zhd_… ./check.sh vendor.txt
# vendor.txt: one mobile number per line. Prints the numbers that are NOT customers yet.
set -eu
: "${ZHUDAI:?set ZHUDAI to the server's address}"
: "${TOKEN:?set TOKEN to an API token with lead.check}"
list=${1:?usage: check.sh FILE}

# At most 1,000 entries per request: split the list and ask batch by batch.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
split -l 1000 "$list" "$tmp/part."
for part in "$tmp"/part.*; do
  body=$(jq -R -s '{phones: (split("\n") | map(select(length > 0)))}' "$part")
  curl -sS --fail-with-body -X POST "$ZHUDAI/api/v1/leads/check" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "$body" | jq -r '.results[] | select(.exists == false) | .input'
done
