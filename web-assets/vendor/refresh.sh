#!/usr/bin/env bash
# Re-vendors the front-end libraries used by web-assets/ (no build step).
#
#   npm pack  →  extract the ESM dist files  →  rewrite bare import specifiers
#
# Usage: web-assets/vendor/refresh.sh            (the pinned versions below)
#        PREACT_VERSION=11.2.1 web-assets/vendor/refresh.sh
# Needs: bash, npm, tar, sed. Works in a temporary directory; only writes
# the files listed in vendor/README.md. After running, update the versions
# in vendor/README.md if you changed them, and load the UI once.
set -euo pipefail

PREACT_VERSION="${PREACT_VERSION:-11.2.0}"
HTM_VERSION="${HTM_VERSION:-3.1.1}"
SIGNALS_VERSION="${SIGNALS_VERSION:-2.11.4}"
SIGNALS_CORE_VERSION="${SIGNALS_CORE_VERSION:-1.14.5}"
ECHARTS_VERSION="${ECHARTS_VERSION:-6.0.0}"
SIGNATURE_PAD_VERSION="${SIGNATURE_PAD_VERSION:-5.1.4}"

VENDOR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zhudai-vendor.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# fetch NAME VERSION DIR: npm pack the package and unpack it into $WORK/DIR
fetch() {
  local name="$1" version="$2" dir="$3" tgz
  tgz="$(cd "$WORK" && npm pack --silent "${name}@${version}" | tail -n 1)"
  mkdir -p "$WORK/$dir"
  tar -xzf "$WORK/$tgz" -C "$WORK/$dir" --strip-components=1
  echo "fetched ${name}@${version}"
}

# put SRC DEST: copy a dist file, dropping its sourceMappingURL comment
# (we do not ship the .map files).
put() {
  mkdir -p "$(dirname "$2")"
  sed -E 's@//# sourceMappingURL=[^[:space:]]*@@' "$1" > "$2"
}

# rewrite FILE BARE RELATIVE: replace the quoted bare specifier in
# `from"BARE"`, `from 'BARE'`, `import"BARE"` by the relative path.
rewrite() {
  local file="$1" bare="$2" rel="$3" esc
  esc="$(printf '%s' "$bare" | sed -E 's@[][\.^$*+?(){}|/@]@\\&@g')"
  sed -E -i "s@((from|import)[[:space:]]*)([\"'])${esc}([\"'])@\\1\\3${rel}\\4@g" "$file"
}

fetch preact "$PREACT_VERSION" preact
fetch htm "$HTM_VERSION" htm
fetch @preact/signals "$SIGNALS_VERSION" signals
fetch @preact/signals-core "$SIGNALS_CORE_VERSION" signals-core
fetch echarts "$ECHARTS_VERSION" echarts
fetch signature_pad "$SIGNATURE_PAD_VERSION" signature_pad

rm -rf "$VENDOR/preact" "$VENDOR/htm" "$VENDOR/signals" "$VENDOR/signals-core" "$VENDOR/echarts" "$VENDOR/signature_pad"

# preact: core + hooks ("exports" → ./dist/preact.mjs, ./hooks/dist/hooks.mjs)
put "$WORK/preact/dist/preact.mjs"       "$VENDOR/preact/preact.module.js"
put "$WORK/preact/hooks/dist/hooks.mjs"  "$VENDOR/preact/hooks.module.js"
rewrite "$VENDOR/preact/hooks.module.js" preact ./preact.module.js
cp "$WORK/preact/LICENSE" "$VENDOR/preact/LICENSE"

# htm ("module" → dist/htm.module.js; no imports)
put "$WORK/htm/dist/htm.module.js" "$VENDOR/htm/htm.module.js"
cp "$WORK/htm/LICENSE" "$VENDOR/htm/LICENSE"

# @preact/signals-core ("exports" import → dist/signals-core.mjs; no imports)
put "$WORK/signals-core/dist/signals-core.mjs" "$VENDOR/signals-core/signals-core.module.js"
cp "$WORK/signals-core/LICENSE" "$VENDOR/signals-core/LICENSE"

# @preact/signals ("exports" import → dist/signals.mjs)
put "$WORK/signals/dist/signals.mjs" "$VENDOR/signals/signals.module.js"
rewrite "$VENDOR/signals/signals.module.js" preact/hooks ../preact/hooks.module.js
rewrite "$VENDOR/signals/signals.module.js" preact ../preact/preact.module.js
rewrite "$VENDOR/signals/signals.module.js" @preact/signals-core ../signals-core/signals-core.module.js
cp "$WORK/signals/LICENSE" "$VENDOR/signals/LICENSE"

# echarts (the self-contained ESM bundle; no imports)
put "$WORK/echarts/dist/echarts.esm.min.js" "$VENDOR/echarts/echarts.esm.min.js"
cp "$WORK/echarts/LICENSE" "$WORK/echarts/NOTICE" "$VENDOR/echarts/"

# signature_pad (the minified ESM build, default export; no imports): the signing page
put "$WORK/signature_pad/dist/signature_pad.min.js" "$VENDOR/signature_pad/signature_pad.module.js"
cp "$WORK/signature_pad/LICENSE" "$VENDOR/signature_pad/LICENSE"

# Every import specifier left must be relative ("./" or "../").
bad="$(grep -EHo "(from|import)[[:space:]]*[\"'][^\"'.][^\"']*[\"']" \
  "$VENDOR"/preact/*.js "$VENDOR"/htm/*.js "$VENDOR"/signals/*.js "$VENDOR"/signals-core/*.js "$VENDOR"/echarts/*.js "$VENDOR"/signature_pad/*.js || true)"
if [ -n "$bad" ]; then
  echo "refresh.sh: bare import specifiers remain:" >&2
  echo "$bad" >&2
  exit 1
fi

echo "vendored: preact@${PREACT_VERSION} htm@${HTM_VERSION} @preact/signals@${SIGNALS_VERSION} @preact/signals-core@${SIGNALS_CORE_VERSION} echarts@${ECHARTS_VERSION} signature_pad@${SIGNATURE_PAD_VERSION}"
