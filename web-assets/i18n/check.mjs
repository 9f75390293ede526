#!/usr/bin/env node
// i18n consistency check — run: node web-assets/i18n/check.mjs (exit 1 on failure)
//  1. zh-CN.js and en.js have the same keys, non-empty string values, and
//     the same {placeholders} per key;
//  2. every key used in web-assets/**/*.js (t('…') calls, and `key: '…'` /
//     `…Key: '…'` properties of data lists such as routes.js) exists;
//  3. no Han characters in code outside the dictionaries (a cheap guard
//     against user-visible Chinese literals in components);
//  4. every error code the API can return (read from src/**/*.rs outside test
//     modules: `Error::Conflict|Unprocessable|Unavailable|TokenRejected|Refused|Denied
//     { code: "…" }`, `ApiError::new(status, "…"`, `ErrorDetail { code: "…"`, the canned codes of
//     `ApiError::for_status`) has a text `error.<code>` in every dictionary, so
//     the UI never shows a bare code or parses the server's Chinese message.
//  5. every audit action the server can write (`store::audit::ACTIONS` in
//     src/store/audit.rs) has a label `audit.action.<action>` in every
//     dictionary and an entry in the audit page's filter (AUDIT_ACTIONS in
//     pages/admin-audit.js), so the log never shows a bare code;
//  6. every capability and field privilege a role can grant (the `grants!`
//     lists in src/domain/capability.rs) has a label `cap.<c>` / `priv.<p>` in
//     every dictionary and an entry in components/capabilities.js.
// Unused keys are reported as warnings only.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here); // web-assets/
const DICTS = { 'zh-CN': join(here, 'zh-CN.js'), en: join(here, 'en.js') };

const failures = [];
const warnings = [];

const dicts = {};
for (const [name, file] of Object.entries(DICTS)) {
  dicts[name] = (await import(pathToFileURL(file).href)).default;
}

const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
const [base, ...others] = Object.keys(dicts);
for (const other of others) {
  for (const key of Object.keys(dicts[base])) {
    if (!(key in dicts[other])) failures.push(`key "${key}" is in ${base} but missing in ${other}`);
  }
  for (const key of Object.keys(dicts[other])) {
    if (!(key in dicts[base])) failures.push(`key "${key}" is in ${other} but missing in ${base}`);
  }
}
for (const [name, dict] of Object.entries(dicts)) {
  for (const [key, value] of Object.entries(dict)) {
    if (typeof value !== 'string' || value.trim() === '') failures.push(`${name}: "${key}" is not a non-empty string`);
    else if (name !== base && typeof dicts[base][key] === 'string' && placeholders(value) !== placeholders(dicts[base][key])) {
      failures.push(`${name}: "${key}" has placeholders {${placeholders(value)}}, ${base} has {${placeholders(dicts[base][key])}}`);
    }
  }
}

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== join(root, 'vendor')) yield* walk(path);
    } else if (/\.(m?js)$/.test(entry.name)) {
      yield path;
    }
  }
}

const used = new Set();
const USES = [
  /\bt\(\s*(['"`])([^'"`\n$]+)\1/g, // t('nav.dashboard') / t("…") / t(`…`) without ${}
  /\b(?:key|\w+Key)\s*:\s*(['"])([^'"\n]+)\1/g, // { key: 'nav.dashboard' } in data lists
];
const dictFiles = new Set(Object.values(DICTS));
let scanned = 0;
for (const file of walk(root)) {
  if (dictFiles.has(file) || file === fileURLToPath(import.meta.url)) continue;
  scanned += 1;
  const source = readFileSync(file, 'utf8');
  const rel = relative(root, file);
  for (const pattern of USES) {
    for (const match of source.matchAll(pattern)) {
      const key = match[2];
      used.add(key);
      if (!(key in dicts[base])) {
        const line = source.slice(0, match.index).split('\n').length;
        failures.push(`${rel}:${line}: unknown i18n key "${key}"`);
      }
    }
  }
  source.split('\n').forEach((text, i) => {
    if (/[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/.test(text)) {
      failures.push(`${rel}:${i + 1}: Chinese text outside the dictionaries (use t()): ${text.trim()}`);
    }
  });
}

function* walkRust(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walkRust(path);
    else if (entry.name.endsWith('.rs')) yield path;
  }
}
const CODE_PATTERNS = [
  /Error::(?:Conflict|Unprocessable|Unavailable|TokenRejected|Refused|Denied)\s*\{\s*code:\s*"([a-z][a-z0-9_]*)"/g,
  /ApiError::new\(\s*[^,]+,\s*"([a-z][a-z0-9_]*)"/g,
  /ErrorDetail\s*\{\s*code:\s*"([a-z][a-z0-9_]*)"/g,
];
const CANNED = /\(\s*"([a-z][a-z0-9_]*)",\s*"[^"]*"\s*\)/g; // for_status: ("timeout", "…")
const src = join(dirname(root), 'src');
const apiCodes = new Map();
for (const file of walkRust(src)) {
  let source = readFileSync(file, 'utf8');
  const tests = source.indexOf('#[cfg(test)]');
  if (tests >= 0) source = source.slice(0, tests);
  const patterns = file.endsWith(join('http', 'error.rs')) ? [...CODE_PATTERNS, CANNED] : CODE_PATTERNS;
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) {
      if (!apiCodes.has(match[1])) apiCodes.set(match[1], relative(dirname(root), file));
    }
  }
}
if (apiCodes.size < 10) failures.push(`found only ${apiCodes.size} error codes in src/: has the error shape changed? update check.mjs`);
for (const [code, file] of apiCodes) {
  for (const [name, dict] of Object.entries(dicts)) {
    if (!(`error.${code}` in dict)) failures.push(`${name}: error code "${code}" (${file}) has no text "error.${code}"`);
    used.add(`error.${code}`);
  }
}

const auditSource = readFileSync(join(src, 'store', 'audit.rs'), 'utf8');
const actionList = auditSource.match(/pub const ACTIONS: &\[&str\] = &\[([\s\S]*?)\];/);
const consts = new Map([...auditSource.matchAll(/pub const ([A-Z_]+): &str = "([a-z_.]+)";/g)].map((m) => [m[1], m[2]]));
const auditActions = actionList
  ? actionList[1].split(',').map((x) => x.trim()).filter(Boolean).map((x) => (x.startsWith('"') ? x.slice(1, -1) : consts.get(x)))
  : [];
if (auditActions.length < 20 || auditActions.some((a) => !a)) failures.push('could not read store::audit::ACTIONS from src/store/audit.rs: update check.mjs');
const auditPage = readFileSync(join(root, 'pages', 'admin-audit.js'), 'utf8');
for (const action of auditActions) {
  for (const [name, dict] of Object.entries(dicts)) {
    if (!(`audit.action.${action}` in dict)) failures.push(`${name}: audit action "${action}" has no label "audit.action.${action}"`);
  }
  if (!auditPage.includes(`action: '${action}'`)) failures.push(`pages/admin-audit.js: audit action "${action}" is not offered in AUDIT_ACTIONS (the filter)`);
  used.add(`audit.action.${action}`);
}

const grantSource = readFileSync(join(src, 'domain', 'capability.rs'), 'utf8');
const grantList = (name) => {
  const block = grantSource.match(new RegExp(`\\b${name},\\s*"[^"]*",\\s*\\{([\\s\\S]*?)\\}`));
  return block ? [...block[1].matchAll(/=\s*"([a-z_.]+)"/g)].map((m) => m[1]) : [];
};
const capsPage = readFileSync(join(root, 'components', 'capabilities.js'), 'utf8');
for (const [name, prefix, field] of [['Capability', 'cap', 'cap'], ['FieldPrivilege', 'priv', 'priv']]) {
  const grants = grantList(name);
  if (grants.length < 2) failures.push(`could not read the ${name} list from src/domain/capability.rs: update check.mjs`);
  for (const g of grants) {
    for (const [dname, dict] of Object.entries(dicts)) {
      if (!(`${prefix}.${g}` in dict)) failures.push(`${dname}: ${name} "${g}" has no label "${prefix}.${g}"`);
    }
    if (!capsPage.includes(`${field}: '${g}'`)) failures.push(`components/capabilities.js: ${name} "${g}" is not listed`);
  }
}

for (const key of Object.keys(dicts[base])) {
  if (!used.has(key)) warnings.push(`key "${key}" is not used in any t('…') call (fine if built dynamically)`);
}

for (const w of warnings) console.warn(`warning: ${w}`);
if (failures.length) {
  for (const f of failures) console.error(`error: ${f}`);
  console.error(`i18n check FAILED: ${failures.length} problem(s)`);
  process.exit(1);
}
console.log(`i18n check passed: ${Object.keys(dicts[base]).length} keys × ${Object.keys(dicts).length} locales, ${used.size} keys used in ${scanned} files, ${apiCodes.size} API error codes with texts, ${auditActions.length} audit actions labelled`);
