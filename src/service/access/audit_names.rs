//! Names for the ids on one page of the audit log, so the page reads names
//! instead of ULIDs. Only the ids on the page are looked up, each by key (never a whole
//! table), and each kind only as far as the reader may read it elsewhere in the API:
//! colleagues' display names for everyone (the user directory is open to every account);
//! customers and deals through the reader's own scope and capability (out of scope, deleted
//! or not readable: the id stays, the name does not leak); products with `customer.read`
//! (what the product catalogue asks); pools and channels, whose names the log's own entries
//! already hold.

use std::collections::BTreeMap;

use redb::ReadTransaction;

use crate::domain::capability::Capability;
use crate::service::Result;
use crate::service::access::auth::Caller;
use crate::service::access::scope::ReadScope;
use crate::store;
use crate::store::audit::AuditEntry;

/// Ids an entry's detail can nest at most this deep (a role's grant, a pool's rule): deeper
/// values are left as they are.
const MAX_DEPTH: usize = 6;

/// The page's names: every id resolved, and the customers among them (the older
/// `customer_names` field, kept for clients that read it).
pub struct PageNames {
    pub names: BTreeMap<String, String>,
    pub customers: BTreeMap<String, String>,
}

/// A zhudai record id: a ULID, 26 characters of Crockford base32.
fn looks_like_id(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)))
}

fn ids_in(v: &serde_json::Value, depth: usize, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if looks_like_id(s) => out.push(s.clone()),
        serde_json::Value::Array(a) if depth < MAX_DEPTH => {
            a.iter().for_each(|x| ids_in(x, depth + 1, out));
        }
        serde_json::Value::Object(o) if depth < MAX_DEPTH => {
            o.values().for_each(|x| ids_in(x, depth + 1, out));
        }
        _ => {}
    }
}

/// Every id on the page: actors, targets and the ids inside details, once each.
fn ids_on(items: &[AuditEntry]) -> Vec<String> {
    let mut ids = Vec::new();
    for e in items {
        ids.extend(e.actor_id.iter().cloned());
        ids.extend(e.target.iter().filter(|t| looks_like_id(t)).cloned());
        ids_in(&e.detail, 0, &mut ids);
    }
    ids.sort();
    ids.dedup();
    ids
}

pub fn resolve(
    tx: &ReadTransaction,
    caller: &Caller,
    scope: &ReadScope,
    items: &[AuditEntry],
) -> Result<PageNames> {
    let reads_customers = caller.can(Capability::CustomerRead);
    let reads_deals = caller.can(Capability::DealRead);
    let customers = scope.customers(tx);
    let deals = store::deals::Reader::scoped(tx, &scope.scope);
    let mut out = PageNames {
        names: BTreeMap::new(),
        customers: BTreeMap::new(),
    };
    for id in ids_on(items) {
        if let Some(u) = store::users::get(tx, &id)? {
            out.names.insert(id, u.display_name);
            continue;
        }
        if reads_customers && let Some(c) = customers.live_shown(&id)? {
            out.customers.insert(id.clone(), c.customer.name.clone());
            out.names.insert(id, c.customer.name);
            continue;
        }
        if reads_deals && let Some(d) = deals.get(&id)? {
            out.names
                .insert(id, format!("{} · {}", d.customer_name, d.product.name));
            continue;
        }
        if reads_customers && let Some(p) = store::products::get(tx, &id)? {
            out.names.insert(id, p.terms.name);
            continue;
        }
        if let Some(p) = store::pools::get(tx, &id)? {
            out.names.insert(id, p.name);
            continue;
        }
        if let Some(c) = store::channels::get(tx, &id)? {
            out.names.insert(id, c.name);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ulids_are_ids() {
        assert!(looks_like_id("01M9937NCX2E88YJVT1ZVB85ES"));
        assert!(!looks_like_id("01m9937ncx2e88yjvt1zvb85es"));
        assert!(!looks_like_id("admin"));
        assert!(!looks_like_id("01M9937NCX2E88YJVT1ZVB85EI"));
        let mut out = Vec::new();
        ids_in(
            &serde_json::json!({"lines": [{"user": "01M992EBR1AAAAAAAAAAAAAAAA", "amount_fen": 1}],
                                "reason": "录错"}),
            0,
            &mut out,
        );
        assert_eq!(out, vec!["01M992EBR1AAAAAAAAAAAAAAAA".to_string()]);
    }
}
