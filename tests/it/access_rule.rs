//! The access rule, checked on the source: outside `src/store`, customer data is read only
//! through a scoped reader (`Scope::customers`, `ReadScope::customers`) or the named unscoped
//! handle `Reader::unscoped(tx, Unscoped::<why>)`, and each use of the unscoped handle is in a
//! file listed here for that reason. The raw readers are private to `store` (the compiler
//! holds that); this test holds the rest: no customer table opened by hand, no new unscoped
//! reader slipped into a request path, the compact rule view read by the sweep and doctor only.

use std::path::{Path, PathBuf};

/// (file under src/, why) pairs allowed to take the unscoped handle. Adding a line here is a
/// design decision: say in the commit why that work must see every customer.
const UNSCOPED: &[(&str, &str)] = &[
    // Duplicate checks are firm-wide; what the caller sees of a match is masked by the service.
    ("service/customers/create.rs", "Duplicates"),
    ("service/customers/duplicates.rs", "Duplicates"),
    // A transfer request finds the customer behind a duplicate number; the requester sees a
    // masked name only, the approver reads it through their own scope.
    ("service/customers/transfer_requests.rs", "Duplicates"),
    ("service/import/batch.rs", "Duplicates"),
    // An update import giving a customer an ID number checks no other customer holds it
    // (ids only; the row is refused without naming anyone).
    ("service/import/merge.rs", "Duplicates"),
    // A full number typed into search resolves to ids; the search applies the scope after.
    ("service/search.rs", "NumberLookup"),
    // A PBX's call is matched to its customer by the number's blind index (firm-wide).
    ("service/calls/mod.rs", "CallMatch"),
    // Calls (`store::calls`): ingestion and recording uploads by the PBX token (idempotency by
    // external id), the unmatched list and attaching (`customer.assign`; the customer
    // attached to is read through the caller's scope).
    ("service/calls/mod.rs", "Intake"),
    // A claim is decided by pool membership and the claim rule, not the data scope.
    ("service/pools/claims.rs", "PoolRules"),
    // Jobs over every record: recall sweep, recycle-bin purge and erasure.
    ("service/pools/sweep/apply.rs", "Jobs"),
    ("service/customers/recycle.rs", "Jobs"),
    // Handing over a leaving user's customers (admin).
    ("service/followups.rs", "Handover"),
    // A customer's stage follows its most advanced open deal; the deal's scope was checked.
    ("service/deals/stage.rs", "DealStage"),
    // A contract is rendered from its deal's borrower; the deal's scope was checked.
    ("service/contracts/mod.rs", "Contract"),
    // Key rotation and the search index (rebuild, outbox, inspection).
    ("service/platform/rotate.rs", "Maintenance"),
    // ...and the calls' numbers (`store::calls`).
    ("search/mod.rs", "Maintenance"),
    // `zhudai doctor` (offline, the operator): every sealed value opens under the key.
    ("cli/doctor.rs", "Maintenance"),
];

/// Files (or folders, ending in `/`) outside `store` that may read the compact rule view
/// (`store::rule_fields`).
const RULE_VIEW: &[&str] = &["service/pools/sweep/", "cli/doctor.rs"];

/// (file under src/, function) pairs allowed to call the unscoped deal readers of
/// `store::deals`, which hand out stages only (no deal record): the customer's stage follows
/// its deals, and the recall sweep, claims and assignment (and the plugin page's try-it panel)
/// give rules the customer's most advanced open deal.
const DEAL_STAGE_READS: &[(&str, &str)] = &[
    ("service/deals/stage.rs", "deals::stages_of_customer("),
    ("service/pools/sweep/plan.rs", "deals::lead_stages("),
    ("service/platform/plugins.rs", "deals::lead_stage("),
    ("service/pools/claims.rs", "deals::lead_stage("),
    ("service/pools/assign.rs", "deals::lead_stage("),
];

/// Customer tables nobody outside `store` opens by hand.
const CUSTOMER_TABLES: &[&str] = &[
    "tables::CUSTOMERS",
    "tables::CUSTOMER_KEYS",
    "tables::FOLLOWUPS",
    "tables::CUSTOMER_EVENTS",
    "tables::CUSTOMER_RULES",
    "tables::CUSTOMER_ACTIVITY",
    "TableDefinition::new(\"customer",
    "TableDefinition::new(\"followups",
    // Deals: read through `store::deals::Reader` (scoped) only.
    "tables::DEALS",
    "tables::DEAL_KEYS",
    "tables::DEAL_COUNTS",
    // Documents custody and blobs: through `store::custody` / `store::blobs`, after the deal's
    // scoped reader.
    "tables::DEAL_DOCUMENTS",
    "tables::DOCUMENT_KEYS",
    "tables::BLOBS",
    // Fees: read through `store::fees::Reader` (scoped) or by a deal already read.
    "tables::FEE_ACCOUNTS",
    "tables::FEE_KEYS",
    "tables::COMMISSION_LINES",
    // Calls: through `store::calls::Reader` (the customer's scope) only.
    "tables::CALLS",
    "tables::CALL_KEYS",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The violations in one file's text (`rel`: its path under src/).
fn violations(rel: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    if rel.starts_with("store/") {
        return out;
    }
    // Statements, so a call split over lines is seen whole.
    let flat: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join(" ");
    for (at, _) in flat.match_indices("Reader::unscoped(") {
        let call: String = flat[at..].chars().take(160).collect();
        let why = call.split("Unscoped::").nth(1).map(|r| {
            r.chars()
                .take_while(|c| c.is_alphanumeric())
                .collect::<String>()
        });
        match why {
            Some(why) if UNSCOPED.contains(&(rel, why.as_str())) => {}
            Some(why) => out.push(format!(
                "{rel}: Reader::unscoped(.., Unscoped::{why}) is not in the allowed list"
            )),
            None => out.push(format!("{rel}: Reader::unscoped without a named reason")),
        }
    }
    if !RULE_VIEW
        .iter()
        .any(|f| rel == *f || (f.ends_with('/') && rel.starts_with(f)))
        && flat.contains("rule_fields::")
    {
        out.push(format!(
            "{rel}: reads the compact rule view (store::rule_fields) outside the sweep"
        ));
    }
    for (_, call) in DEAL_STAGE_READS {
        if flat.contains(call) && !DEAL_STAGE_READS.contains(&(rel, call)) {
            out.push(format!(
                "{rel}: calls store::{call}..) outside its allowed file"
            ));
        }
    }
    for table in CUSTOMER_TABLES {
        if flat.contains(table) {
            out.push(format!("{rel}: opens {table} outside store/"));
        }
    }
    out
}

#[test]
fn customer_data_is_read_through_a_scoped_reader_or_the_named_unscoped_handle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 50, "the walk found the sources");
    let mut found = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for path in &files {
        let rel = path
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).expect("a readable source file");
        found.extend(violations(&rel, &text));
        for (file, why) in UNSCOPED {
            if *file == rel && text.contains(&format!("Unscoped::{why}")) {
                used.insert((*file, *why));
            }
        }
    }
    assert!(
        found.is_empty(),
        "access rule broken:\n{}",
        found.join("\n")
    );
    // The list stays honest: an entry nobody needs any more is removed.
    let stale: Vec<_> = UNSCOPED.iter().filter(|e| !used.contains(*e)).collect();
    assert!(stale.is_empty(), "allowed but unused: {stale:?}");
}

#[test]
fn the_rule_check_catches_each_kind_of_breach() {
    // Positive controls: each breach the check exists for is reported.
    let hand_opened = "let t = tx.open_table(crate::store::tables::CUSTOMERS)?;";
    assert_eq!(violations("service/deals.rs", hand_opened).len(), 1);
    let unlisted = "let all = Reader::unscoped(\n tx,\n Unscoped::Jobs,\n);";
    assert_eq!(violations("service/customers/list.rs", unlisted).len(), 1);
    let listed_elsewhere = "let all = Reader::unscoped(tx, Unscoped::Duplicates);";
    assert_eq!(
        violations("service/pools/sweep.rs", listed_elsewhere).len(),
        1
    );
    assert!(violations("service/customers/duplicates.rs", listed_elsewhere).is_empty());
    let rule_view = "store::rule_fields::scan_owned(tx, None, |_| true)";
    assert_eq!(violations("service/reports.rs", rule_view).len(), 1);
    let stages = "let s = store::deals::lead_stages(tx)?;";
    assert_eq!(violations("service/reports.rs", stages).len(), 1);
    assert!(violations("service/pools/sweep/plan.rs", stages).is_empty());
    // Inside store anything goes: that is where the raw readers live.
    assert!(violations("store/customers.rs", hand_opened).is_empty());
}
