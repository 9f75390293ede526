//! Every audit action the server can write is registered in `store::audit::ACTIONS` (which the
//! UI check holds to a label in both dictionaries and an entry in the audit page's filter).
//! Checked on the source, so an action on a path no test reaches is caught too.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

use zhudai::domain::capability::{Capability, FieldPrivilege};
use zhudai::store::audit::ACTIONS;

/// Areas an audit action is named after (`<area>.<what>`).
const AREAS: &[&str] = &[
    "auth",
    "setup",
    "user",
    "department",
    "role",
    "token",
    "customer",
    "followup",
    "custom_field",
    "tag_group",
    "import_template",
    "pool",
    "product",
    "transfer",
    "deal",
    "document",
    "fee",
    "month",
    "target",
    "contract",
    "contract_template",
    "call",
    "assignment",
    "plugin",
    "backup",
    "key",
    "audit",
    "lead",
    "application_form",
    "report",
    "channel",
    "broker",
];

/// Dotted strings in those areas that are not audit actions (file names, config keys, field
/// paths).
const NOT_ACTIONS: &[&str] = &[
    "backup.lock",
    "backup.time",
    "key.tmp",
    "pool.rhai",
    // The default plugins superseded by name (datadir.rs).
    "fee.rhai",
    "fee.amount_fen",
    "fee.rate_bp",
    // The broker plugin, its hook and a broker account's fields (validation errors).
    "broker.rhai",
    "broker.fee",
    "broker.channel_id",
    "broker.company",
];

/// Files whose dotted strings are configuration keys or hook names, not actions (and the
/// script engine's test modules, which are whole files).
const SKIP: &[&str] = &[
    "config.rs",
    // Template placeholders (`customer.name`, `deal.id`, …).
    "domain/contract.rs",
    "script/hooks.rs",
    "script/tests.rs",
    "script/trust_tests.rs",
    // Custom report plugin names (`report.avg`).
    "script/report_tests.rs",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Dotted string literals in an area, outside test modules.
fn candidates(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = Vec::new();
    for part in code.split('"').skip(1).step_by(2) {
        let Some((area, what)) = part.split_once('.') else {
            continue;
        };
        let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if AREAS.contains(&area) && word(what) {
            out.push(part.to_string());
        }
    }
    out
}

#[test]
fn every_audit_action_written_is_registered() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let grants: Vec<&str> = Capability::ALL
        .iter()
        .map(|c| c.as_str())
        .chain(FieldPrivilege::ALL.iter().map(|p| p.as_str()))
        .collect();
    let mut unregistered = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for path in &files {
        let rel = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if SKIP.contains(&rel.as_str()) {
            continue;
        }
        for s in candidates(&std::fs::read_to_string(path).unwrap()) {
            if grants.contains(&s.as_str()) || NOT_ACTIONS.contains(&s.as_str()) {
                continue;
            }
            if ACTIONS.contains(&s.as_str()) {
                seen.insert(s);
            } else {
                unregistered.push(format!("{rel}: \"{s}\""));
            }
        }
    }
    assert!(
        unregistered.is_empty(),
        "audit actions not in store::audit::ACTIONS:\n{}",
        unregistered.join("\n")
    );
    // The list holds no action nobody writes any more.
    let unused: Vec<_> = ACTIONS.iter().filter(|a| !seen.contains(**a)).collect();
    assert!(
        unused.is_empty(),
        "registered but never written: {unused:?}"
    );
}

#[test]
fn the_scan_finds_actions_in_every_form_they_are_written() {
    // Positive controls: the forms use cases write actions in.
    let forms = r#"
        w.audit("customer.teleported", Some(&c.id), json!({}))?;
        audit::by_user(&caller.user, "pool.renamed", source, None, json!({}));
        NewAudit { action: "backup.exploded", .. };
        let (kind, action) = if lock { ("locked", "customer.frozen") } else { ("x", "y") };
    "#;
    assert_eq!(
        candidates(forms),
        [
            "customer.teleported",
            "pool.renamed",
            "backup.exploded",
            "customer.frozen"
        ]
    );
    assert!(candidates("#[cfg(test)] mod t { \"customer.x\" }").is_empty());
}
