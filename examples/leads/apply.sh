#!/bin/sh
# Submitting an online application form from your own page or backend (JSON). The form's page
# (GET /apply/<slug>) carries a signed ticket in its hidden field `ticket`: it proves when the
# page was served, and a submission sooner than the form's minimum fill time is refused.
#   ZHUDAI=https://crm.example.com ./apply.sh web 13800138000 张三
set -eu
: "${ZHUDAI:?}"
slug=${1:?usage: apply.sh SLUG PHONE [NAME]}
phone=${2:?}
name=${3:-}
ticket=$(curl -sS "$ZHUDAI/apply/$slug" | sed -n 's/.*name="ticket" value="\([^"]*\)".*/\1/p')
sleep 4 # the form's minimum fill time (3 s unless the admin set another)
jq -n --arg t "$ticket" --arg p "$phone" --arg n "$name" \
  '{ticket: $t, phone: $p, name: $n, consent_general: "yes"}' |
  curl -sS -X POST "$ZHUDAI/apply/$slug" -H 'Content-Type: application/json' -d @-
echo
