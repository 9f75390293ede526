//! Schema versions and forward migrations, run at start-up before anything else touches the
//! store. Each step runs in its own write transaction and bumps the version in that same
//! transaction, so a crash mid-upgrade resumes at the step that did not commit (steps 9 and 10:
//! see below).
//!
//! History:
//! - 1: meta, users.
//! - 2: users_by_name (unique, case-insensitive usernames), sessions, setup.
//! - 3: audit (hash-chained audit log).
//! - 4: roles (built-ins seeded), departments, api_tokens, api_token_hashes.
//! - 5: customers, customer_keys, reveals.
//! - 6: followups, customer_events.
//! - 7: settings (the master key's fingerprint).
//! - 8: search_outbox, custom_fields, tag_groups, user_prefs, import_jobs, import_templates,
//!   plugin_versions, pools, counters.
//! - 9: customer_rules, customer_activity (compact rule view of each customer, filled from the
//!   records).
//! - 10: owner_loads (per-owner counts of live, not won, open, locked customers and per city,
//!   filled from the records).
//! - 11: customer records no longer keep the birth date in clear (it completed the masked ID
//!   number); records that have one are rewritten with the birth year only. The store is
//!   compacted after the upgrade so the freed pages with the old values are released.
//!   owner_loads also counts each pool's waiting customers (key `pool:<id>`), added;
//!   customer_keys gains the recycle bin's keys (`b:<deleted at>/<id>`) and exact names
//!   (`n:<name>/<id>`).
//! - 12: the audit chain is keyed: every entry re-sealed with HMAC-SHA256 under a key derived
//!   from the master key (`crypto::audit_key`), after checking it as plain SHA-256; a break
//!   found in the old chain is recorded in the `audit.chain_keyed` entry appended last, so
//!   `doctor` keeps reporting it. Needs the master key (the store must be opened by zhudai
//!   itself, not by a bare `Store::open`) when the log has entries; one write transaction.
//!   And a firm-wide public pool (公司公海, default settings) is created when there is no pool
//!   at all: a store without one silently recalled nothing. New stores get both at creation.
//! - 13: the recycle bin's size is kept as a counter (`counters`, `customers/recycle_bin`,
//!   `store::loads`), set from the bin's keys: its page has a total without reading the bin.
//! - 14: the built-in salesperson role (`sales`) gains `phone.view_own` with 200 reveals a day
//!   (the phone of their own customers), when it still has the defaults it was seeded with (no
//!   field privilege, no quota); a role the firm changed is left as it is, and the upgrade log
//!   says so.
//! - 15: customer_keys gains each waiting customer's pool-page key (`q:<pool id>/<id>`), so a
//!   pool's page is read from its keys in id order (one batch pass over the records).
//! - 16: products, product_versions (credit products and every version written).
//! - 17: customer_match (the compact match view of every live customer, filled from the
//!   records in batches).
//! - 18: funnel_since, and `settings` `funnel/since` = today: the funnel counters (`counters`,
//!   `fe/…`, `fd/…`) count from now on; history before the upgrade is not reconstructed.
//! - 19: `notices`, each user's log of customers given to them (`store::notices`), created
//!   empty.
//! - 20: transfer_requests, transfer_keys (转移申请, `store::transfers`), created empty.
//! - 21: deals, deal_keys, deal_counts (deals through the pipeline; the built-in roles already
//!   held the deal capabilities since schema 4, so no role changes).
//! - 22: the funnel's month rollups (`me/…`, `md/…`, `mr/…` in `counters`), summed from the day
//!   counters kept so far (`store::funnel`).
//! - 23: blobs, blob_deletions (the encrypted blob store's rows), deal_documents,
//!   document_keys (权证 custody), created empty; a deal's checklist is written on its first
//!   documents change.
//! - 24: lead_check (the lead-vendor duplicate check's keyed phone index, `store::leads`),
//!   application_forms, application_keys, application_submissions (online applications,
//!   `store::applications`), created empty; the built-in admin role gains `lead.check`. The
//!   lead index of existing customers needs the field key to compute: the step marks the fill
//!   pending (`store::leads::FILL_CURSOR`) and the application fills it at start in batches
//!   (`service::leads::fill_lead_index`), resuming after a restart.
//! - 25: fee_accounts, fee_keys, commission_lines, fee_totals, months, targets (fees,
//!   payments, commissions, month close, monthly targets; `store::fees`), created empty.
//! - 26: contract_templates, contract_template_versions, contracts, contract_keys (contracts
//!   and signing, docs/contracts.md); the two default templates (居间服务协议, 个人信息授权书)
//!   seeded as version 1.
//! - 27: calls, call_keys (calls from the PBX, `store::calls`), created empty; the built-in
//!   admin role gains `call.ingest` (new since schema 4; a firm's own roles are left alone).
//! - 28: channels, channel_names, channel_costs, channel_stats (channels and their ROI;
//!   `store::channels`), created empty: counting starts at the upgrade, no backfill.
//! - 29: products and their versions rewritten with the field names of docs/api.md
//!   (`min_amount_fen`, `fee`, `rebate_bp`, `required_documents`, `requirements.min_age` …).
//! - 30: owner_touch (per owner, customers by last touch: hoarding) built from the compact
//!   rule view; the counters `followups_kind/…` and `prod/…`, `prodwhy/…` counted from the
//!   follow-ups and the deals' stage histories (`store::report_keys`); batched like 9 (the
//!   counters in the first batch).
//! - 31: referrals, referral_fees, referral_keys (brokers' referrals and their fees,
//!   `store::brokers`), created empty; the built-in `broker` role (经纪人) seeded.
//! - 32: customer records rewritten in the compact format 2 (`store::customer_codec`), the
//!   customer keys and lead-check keys rebuilt in a short form (empty values, the first 128
//!   bits of each blind index); batched like 9; the file is compacted afterwards so the space
//!   is given back.
//! - 33: customer timeline events rewritten in the compact format 2 (`store::event_codec`),
//!   in batches of events in key order (the cursor is the last event key); compacted after.
//! - 34: owner_touch_buckets (per owner, `owner_touch` keys counted by day and by 32-day
//!   block, so hoarding sums buckets) counted from `owner_touch`; the fee rollups in
//!   fee_totals (`pd/`, `pdm/`, `rd/`, `rdm/`, `due/`: paid and refunded per officer by day
//!   and month, outstanding by disbursement day; `store::fees`) counted from the fee
//!   accounts; the lead counters `fl/<day>/<owner>` (the 工作台 trends) from the customer
//!   funnel's `lead` entries; batched (the cursor names the phase).
//!
//! - 35: customer keys and lead-check keys in a binary form (`store::key_codec`: a kind byte,
//!   ULIDs and the blind index's 128 bits as bytes, no value) in the new tables
//!   customer_keys_bin and lead_check_bin, built from the records in batches; in the same
//!   batches the records are rewritten in format 3 (`store::customer_codec`: ids as bytes)
//!   and the rule views in format 2 (`store::rule_fields`: varints); the text tables are
//!   dropped with the first batch and the recycle bin's counter is set from the new keys with
//!   the last; compacted after.
//!
//! - 36: timeline events in binary keys and format 3 (`store::event_codec`:
//!   customer_events_bin), the funnel's stages in binary keys (funnel_since_bin), both moved
//!   from their text tables in key order and the text tables dropped; the customer keys lose
//!   the `o` + none keys of customers in no one's hands; customers (records rewritten in format
//!   4, without their id), customer_rules, customer_keys_bin and lead_check_bin rebuilt into
//!   fresh tables in key order so their pages are packed (`store::v36`, `store::repack`);
//!   batched (the cursor names the phase); compacted after.
//!
//! - 37: customer_activity keyed by the UTC day of the last activity instead of its second
//!   (`store::rule_fields::activity_day`), so a recall sweep's batch in id order rewrites a
//!   few leaves per day rather than nearly every leaf; emptied by the first batch and rebuilt
//!   from the rule views (customer_rules) in batches.
//!
//! - 38: import_key_log (`store::keylog`: the keys of a running CLI import's new customers,
//!   merged into customer_keys_bin and lead_check_bin at its end or at the next open),
//!   created empty.
//!
//! - 39: audit_by and audit_counts (`store::audit`: the audit log's filters as keys and their
//!   totals), built from the log in batches of entries.
//!
//! Steps 9, 10, 11, 15, 17, 30, 32, 33, 34, 35, 36 and 37 read every customer (record or rule
//! view) or key, step 39 every audit entry; they run in batches of write transactions, each committing its rows with a
//! cursor, and the version is bumped with the last batch, so an interrupted upgrade resumes
//! where it stopped.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::{Error, Result, Store, WriteTransaction, audit, codec, pools, tables};

/// The schema this binary writes.
pub const SCHEMA_VERSION: u64 = 39;
const VERSION_KEY: &str = "schema_version";

/// The version recorded in the store, or `None` for a brand-new file.
pub fn stored_version(store: &Store) -> Result<Option<u64>> {
    let tx = store.db.begin_read()?;
    let meta = match tx.open_table(tables::META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(meta.get(VERSION_KEY)?.map(|v| v.value()))
}

/// What an upgrade did that the caller must finish once no transaction is open.
#[derive(Debug, Default, PartialEq)]
pub struct Upgraded {
    /// Clear values were removed from records (step 11): compact the file so the pages that
    /// held them are released rather than left readable in the free space.
    pub compact: bool,
}

/// One migration step that committed, for a caller that reports them (`zhudai upgrade-check`).
#[derive(Debug, Clone, PartialEq)]
pub struct StepDone {
    pub from: u64,
    pub to: u64,
    pub elapsed: std::time::Duration,
}

pub fn run(store: &Store) -> Result<Upgraded> {
    run_observed(store, &mut |_| {})
}

/// [`run`], telling `on_step` about each step as it commits.
pub fn run_observed(store: &Store, on_step: &mut dyn FnMut(&StepDone)) -> Result<Upgraded> {
    let mut upgraded = Upgraded::default();
    let mut version = match stored_version(store)? {
        None => {
            store.write(|tx| {
                create_all(tx)?;
                set_version(tx, SCHEMA_VERSION)
            })?;
            return Ok(upgraded);
        }
        Some(v) => v,
    };
    if version > SCHEMA_VERSION {
        return Err(Error::TooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    while version < SCHEMA_VERSION {
        let next = version + 1;
        let started = std::time::Instant::now();
        if let Some(rebuild) = batched(next) {
            run_in_batches(store, next, rebuild)?;
        } else {
            store.write(|tx| {
                step(tx, next)?;
                set_version(tx, next)
            })?;
        }
        tracing::info!(from = version, to = next, "store schema migrated");
        on_step(&StepDone {
            from: version,
            to: next,
            elapsed: started.elapsed(),
        });
        upgraded.compact |= next == 11 || next == 32 || next == 33 || next == 35 || next == 36;
        version = next;
    }
    Ok(upgraded)
}

/// Customers per write transaction of a migration that rebuilds tables from the records.
const MIGRATION_BATCH: usize = 20_000;

/// A batch of a migration that rebuilds from the customer records: `(tx, after, limit)` →
/// (last customer id done, customers done).
type Rebuild = fn(&redb::WriteTransaction, Option<&str>, usize) -> Result<(Option<String>, usize)>;

/// The steps that read every customer record: run in batches, so a large store is not
/// migrated in one huge write transaction.
fn batched(to: u64) -> Option<Rebuild> {
    match to {
        9 => Some(super::rule_fields::rebuild_batch),
        10 => Some(super::loads::rebuild_batch),
        11 => Some(v11_batch),
        15 => Some(super::customers::add_waiting_keys_batch),
        17 => Some(super::match_rows::rebuild_batch),
        30 => Some(super::report_keys::rebuild_batch),
        32 => Some(super::customers::compact_batch),
        33 => Some(super::event_codec::compact_batch),
        34 => Some(v34_batch),
        35 => Some(super::customers::binary_keys_batch),
        36 => Some(super::v36::batch),
        37 => Some(super::rule_fields::activity_batch),
        39 => Some(audit::index_batch),
        _ => None,
    }
}

/// Step 34 over one batch: first the `owner_touch` keys into their buckets, then the fee
/// accounts into the report rollups, then the customer funnel's `lead` entries into the lead
/// counters. The cursor names its phase (`t:` an `owner_touch` key, `f:` a deal id, `l:` a
/// funnel key), so an interrupted upgrade resumes in the right one; a batch that finishes a
/// phase goes on with the next.
fn v34_batch(
    tx: &redb::WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut n = 0;
    let mut fee_after = after.and_then(|a| a.strip_prefix("f:")).map(str::to_string);
    if after.is_none_or(|a| a.starts_with("t:")) {
        let (last, done) =
            super::report_keys::buckets_batch(tx, after.and_then(|a| a.strip_prefix("t:")), limit)?;
        if done == limit {
            return Ok((last.map(|l| format!("t:{l}")), done));
        }
        n = done;
        fee_after = None;
    }
    let mut lead_after = after.and_then(|a| a.strip_prefix("l:")).map(str::to_string);
    if after.is_none_or(|a| !a.starts_with("l:")) {
        let (last, done) = super::fees::rollups_batch(tx, fee_after.as_deref(), limit - n)?;
        n += done;
        if n == limit {
            return Ok((last.map(|l| format!("f:{l}")), n));
        }
        lead_after = None;
    }
    let (last, done) = super::funnel::leads_batch(tx, lead_after.as_deref(), limit - n)?;
    Ok((last.map(|l| format!("l:{l}")), n + done))
}

fn cursor_key(to: u64) -> String {
    format!("migration/{to}/after")
}

/// Step 11 over one batch of customers: birth dates out of the records, and each pool's
/// waiting customers counted (the owners' counters are left as they are).
fn v11_batch(
    tx: &redb::WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    super::customers::scrub_birth_dates_batch(tx, after, limit)?;
    super::loads::count_pools_batch(tx, after, limit)
}

/// Runs step `to` as [`MIGRATION_BATCH`]-customer write transactions. Each commits its rows
/// with the id it got to (`settings`), so an interrupted upgrade resumes after the last
/// committed batch; the last batch bumps the version and removes the cursor.
fn run_in_batches(store: &Store, to: u64, rebuild: Rebuild) -> Result<()> {
    let key = cursor_key(to);
    let mut total = 0usize;
    loop {
        let done = store.write(|tx| {
            let after = tx
                .open_table(tables::SETTINGS)?
                .get(key.as_str())?
                .map(|v| v.value().to_string());
            if after.is_none() {
                // The first batch: the step's tables, empty.
                step(tx, to)?;
            }
            let (last, n) = rebuild(tx, after.as_deref(), MIGRATION_BATCH)?;
            total += n;
            let mut settings = tx.open_table(tables::SETTINGS)?;
            match last {
                Some(last) if n == MIGRATION_BATCH => {
                    settings.insert(key.as_str(), last.as_str())?;
                    Ok::<_, Error>(false)
                }
                _ => {
                    settings.remove(key.as_str())?;
                    drop(settings);
                    set_version(tx, to)?;
                    Ok(true)
                }
            }
        })?;
        if done {
            tracing::info!(to, rows = total, "store rebuilt from its rows");
            return Ok(());
        }
        tracing::info!(to, rows = total, "store migration in progress");
    }
}

fn set_version(tx: &WriteTransaction, v: u64) -> Result<()> {
    tx.open_table(tables::META)?.insert(VERSION_KEY, v)?;
    Ok(())
}

/// Opening a table in a write transaction creates it: a new store gets every table at once.
fn create_all(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::META)?;
    tx.open_table(tables::USERS)?;
    tx.open_table(tables::USERS_BY_NAME)?;
    tx.open_table(tables::SESSIONS)?;
    tx.open_table(tables::SETUP)?;
    tx.open_table(tables::AUDIT)?;
    tx.open_table(tables::DEPARTMENTS)?;
    tx.open_table(tables::API_TOKENS)?;
    tx.open_table(tables::API_TOKEN_HASHES)?;
    tx.open_table(tables::CUSTOMERS)?;
    tx.open_table(tables::CUSTOMER_KEYS)?;
    tx.open_table(tables::REVEALS)?;
    tx.open_table(tables::FOLLOWUPS)?;
    tx.open_table(tables::CUSTOMER_EVENTS)?;
    tx.open_table(tables::SETTINGS)?;
    create_v8(tx)?;
    create_v9(tx)?;
    tx.open_table(tables::OWNER_LOADS)?;
    create_v16(tx)?;
    tx.open_table(tables::CUSTOMER_MATCH)?;
    super::funnel::create(tx, chrono::Utc::now())?;
    tx.open_table(tables::NOTICES)?;
    tx.open_table(tables::TRANSFER_REQUESTS)?;
    tx.open_table(tables::TRANSFER_KEYS)?;
    create_v21(tx)?;
    to_23_blobs(tx)?;
    tx.open_table(tables::LEAD_CHECK)?;
    create_v24(tx)?;
    to_25_fees(tx)?;
    to_26_contracts(tx)?;
    to_27_calls(tx)?;
    to_28_channels(tx)?;
    tx.open_table(tables::OWNER_TOUCH)?;
    tx.open_table(tables::OWNER_TOUCH_BUCKETS)?;
    to_31_brokers(tx)?;
    tx.open_table(tables::IMPORT_KEY_LOG)?;
    tx.open_table(tables::AUDIT_BY)?;
    tx.open_table(tables::AUDIT_COUNTS)?;
    seed_roles(tx)?;
    pools::ensure_default(tx, chrono::Utc::now())?;
    Ok(())
}

/// Step 12: re-seal the audit chain under the key, then the default pool.
fn key_audit_chain(tx: &WriteTransaction) -> Result<()> {
    let now = chrono::Utc::now();
    if tx.open_table(tables::AUDIT)?.len()? > 0 {
        let key = tx.audit_key().cloned().ok_or(Error::AuditKeyMissing)?;
        let (entries, broken) = audit::rekey(tx, audit::Sealing::Legacy, &key)?;
        if let Some((seq, why)) = &broken {
            tracing::error!(seq, %why, "the audit log was already broken before it was keyed; doctor keeps reporting it");
        }
        audit::append(
            tx,
            now,
            audit::NewAudit {
                actor_id: None,
                actor: "system".into(),
                action: audit::CHAIN_KEYED,
                target: None,
                detail: serde_json::json!({
                    "entries": entries,
                    "legacy_break": broken.map(|(seq, why)| format!("{seq}: {why}")),
                }),
                source: "migration".into(),
            },
        )?;
    }
    pools::ensure_default(tx, now)?;
    Ok(())
}

fn seed_roles(tx: &WriteTransaction) -> Result<()> {
    let mut roles = tx.open_table(tables::ROLES)?;
    for role in crate::domain::roles::builtin_roles() {
        if roles.get(role.key.as_str())?.is_none() {
            roles.insert(role.key.as_str(), codec::encode(&role)?.as_slice())?;
        }
    }
    Ok(())
}

/// Schema 14: see the module doc.
fn grant_sales_own_phones(tx: &WriteTransaction) -> Result<()> {
    use crate::domain::roles::{FieldPrivilege, SALES_REVEAL_QUOTA};
    let Some(mut sales) = super::org::roles_w(tx)?
        .into_iter()
        .find(|r| r.key == "sales" && r.builtin)
    else {
        return Ok(());
    };
    if !sales.field_privileges.is_empty() || sales.daily_reveal_quota.is_some() {
        tracing::info!(
            "the salesperson role was changed by the firm; phone.view_own is not added (grant \
             it on the Roles page if wanted)"
        );
        return Ok(());
    }
    sales.field_privileges = vec![FieldPrivilege::PhoneViewOwn];
    sales.daily_reveal_quota = Some(SALES_REVEAL_QUOTA);
    super::org::put_role(tx, &sales)?;
    tracing::info!(
        quota = SALES_REVEAL_QUOTA,
        "the salesperson role may now reveal the phone of their own customers"
    );
    Ok(())
}

fn create_v8(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::SEARCH_OUTBOX)?;
    tx.open_table(tables::CUSTOM_FIELDS)?;
    tx.open_table(tables::TAG_GROUPS)?;
    tx.open_table(tables::USER_PREFS)?;
    tx.open_table(tables::IMPORT_JOBS)?;
    tx.open_table(tables::IMPORT_TEMPLATES)?;
    tx.open_table(tables::PLUGIN_VERSIONS)?;
    tx.open_table(tables::POOLS)?;
    tx.open_table(tables::COUNTERS)?;
    Ok(())
}

fn create_v16(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::PRODUCTS)?;
    tx.open_table(tables::PRODUCT_VERSIONS)?;
    Ok(())
}

fn create_v21(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::DEALS)?;
    tx.open_table(tables::DEAL_KEYS)?;
    tx.open_table(tables::DEAL_COUNTS)?;
    Ok(())
}

/// Schema 23: the blob store and document custody (see the module doc).
fn to_23_blobs(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::BLOBS)?;
    tx.open_table(tables::BLOB_DELETIONS)?;
    tx.open_table(tables::DEAL_DOCUMENTS)?;
    tx.open_table(tables::DOCUMENT_KEYS)?;
    Ok(())
}

/// Schema 24's tables but the lead check's (text until 34, binary since 35: the caller opens
/// the one it writes).
fn create_v24(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::APPLICATION_FORMS)?;
    tx.open_table(tables::APPLICATION_KEYS)?;
    tx.open_table(tables::APPLICATION_SUBMISSIONS)?;
    Ok(())
}

/// Step 24 (see the module doc): the tables, `lead.check` for the built-in admin role, and the
/// lead index fill marked pending when there are customers.
fn to_24_leads(tx: &WriteTransaction) -> Result<()> {
    use crate::domain::roles::Capability;
    tx.open_table(tables::LEAD_CHECK_V34)?;
    create_v24(tx)?;
    if let Some(mut admin) = super::org::roles_w(tx)?
        .into_iter()
        .find(|r| r.key == "admin" && r.builtin)
        && !admin.capabilities.contains(&Capability::LeadCheck)
    {
        admin.capabilities.push(Capability::LeadCheck);
        super::org::put_role(tx, &admin)?;
    }
    if tx.open_table(tables::CUSTOMERS)?.len()? > 0 {
        super::leads::mark_fill(tx)?;
    }
    Ok(())
}

/// Step 26: the contract tables and the seeded default templates.
fn to_26_contracts(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::CONTRACTS)?;
    tx.open_table(tables::CONTRACT_KEYS)?;
    tx.open_table(tables::CONTRACT_TEMPLATE_VERSIONS)?;
    tx.open_table(tables::CONTRACT_TEMPLATES)?;
    for t in crate::domain::contract::seeded(chrono::Utc::now()) {
        if super::contracts::template(tx, &t.id)?.is_none() {
            super::contracts::put_template(tx, &t)?;
        }
    }
    Ok(())
}

/// Schema 27: calls (see the module doc).
fn to_27_calls(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::CALLS)?;
    tx.open_table(tables::CALL_KEYS)?;
    for mut role in super::org::roles_w(tx)? {
        let ingest = crate::domain::capability::Capability::CallIngest;
        if role.builtin && role.key == "admin" && !role.capabilities.contains(&ingest) {
            role.capabilities.push(ingest);
            super::org::put_role(tx, &role)?;
        }
    }
    Ok(())
}

/// Schema 25: fees, payments, commission lines, their totals and month close (`store::fees`),
/// created empty (deals disbursed before it get their fee account at their first payment).
fn to_25_fees(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::FEE_ACCOUNTS)?;
    tx.open_table(tables::FEE_KEYS)?;
    tx.open_table(tables::COMMISSION_LINES)?;
    tx.open_table(tables::FEE_TOTALS)?;
    tx.open_table(tables::MONTHS)?;
    tx.open_table(tables::TARGETS)?;
    Ok(())
}

/// Schema 28: channels, their monthly costs and per-channel counters (`store::channels`),
/// created empty: counting starts with the upgrade (no backfill).
fn to_28_channels(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::CHANNELS)?;
    tx.open_table(tables::CHANNEL_NAMES)?;
    tx.open_table(tables::CHANNEL_COSTS)?;
    tx.open_table(tables::CHANNEL_STATS)?;
    Ok(())
}

/// Products are written with the field names of docs/api.md (`min_amount_fen`, `fee`,
/// `rebate_bp`, `required_documents`, `requirements.min_age` …): every current and past
/// version is rewritten, the nested `fees` object lifted to the top level. Older names are
/// still read, so this only keeps one spelling on disk.
fn to_29_product_names(tx: &WriteTransaction) -> Result<()> {
    for (def, name) in [
        (tables::PRODUCTS, "products"),
        (tables::PRODUCT_VERSIONS, "product_versions"),
    ] {
        let mut table = tx.open_table(def)?;
        let mut rewritten = Vec::new();
        for row in table.iter()? {
            let (key, bytes) = row?;
            let serde_json::Value::Object(mut m) = codec::decode(name, bytes.value())? else {
                return Err(Error::Corrupt {
                    table: name,
                    message: format!("{} is not an object", key.value()),
                });
            };
            crate::domain::product::canonical_names(&mut m).map_err(|(field, reason)| {
                Error::Corrupt {
                    table: name,
                    message: format!("{}: {field}: {reason}", key.value()),
                }
            })?;
            let product: crate::domain::product::Product =
                serde_json::from_value(serde_json::Value::Object(m)).map_err(|e| {
                    Error::Corrupt {
                        table: name,
                        message: format!("{}: {e}", key.value()),
                    }
                })?;
            rewritten.push((key.value().to_string(), codec::encode(&product)?));
        }
        for (key, bytes) in rewritten {
            table.insert(key.as_str(), bytes.as_slice())?;
        }
    }
    Ok(())
}

/// Schema 30: the keys the reports read (`store::report_keys`). This first batch of the step
/// (`run_in_batches`): `owner_touch` emptied (its batches then fill it from the compact rule
/// view), the per-kind follow-up counters counted from the follow-ups and the per-product deal
/// counters from the deals' stage histories.
fn to_30_report_keys(tx: &WriteTransaction) -> Result<()> {
    tx.delete_table(tables::OWNER_TOUCH)?;
    tx.open_table(tables::OWNER_TOUCH)?;
    let followups = super::report_keys::backfill_kinds(tx)?;
    let stage_changes = super::report_keys::backfill_products(tx)?;
    tracing::info!(followups, stage_changes, "report counters built");
    Ok(())
}

/// Schema 31: brokers' referrals and referral fees (`store::brokers`), created empty, and the
/// built-in `broker` role seeded (the other roles are left as they are).
fn to_31_brokers(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::REFERRALS)?;
    tx.open_table(tables::REFERRAL_FEES)?;
    tx.open_table(tables::REFERRAL_KEYS)?;
    seed_roles(tx)
}

/// Schema 32, the first batch of the step (`run_in_batches`): the customer keys and the
/// lead-check keys emptied; the batches (`customers::compact_batch`) rewrite each record in
/// format 2 and write its keys in the short form (the id only in the key, 128 bits of each
/// blind index).
fn to_32_compact(tx: &WriteTransaction) -> Result<()> {
    tx.delete_table(tables::CUSTOMER_KEYS_V34)?;
    tx.open_table(tables::CUSTOMER_KEYS_V34)?;
    tx.delete_table(tables::LEAD_CHECK_V34)?;
    tx.open_table(tables::LEAD_CHECK_V34)?;
    Ok(())
}

/// Schema 35, the first batch of the step (`run_in_batches`): the text keys of customers and
/// of the lead check dropped, the binary tables created empty; the batches
/// (`customers::binary_keys_batch`) write every customer's keys in the binary form from its
/// record, and the last one sets the recycle bin's counter from them.
fn to_35_binary_keys(tx: &WriteTransaction) -> Result<()> {
    tx.delete_table(tables::CUSTOMER_KEYS_V34)?;
    tx.delete_table(tables::LEAD_CHECK_V34)?;
    tx.delete_table(tables::CUSTOMER_KEYS)?;
    tx.open_table(tables::CUSTOMER_KEYS)?;
    tx.delete_table(tables::LEAD_CHECK)?;
    tx.open_table(tables::LEAD_CHECK)?;
    Ok(())
}

/// Schema 34, the first batch of the step (`run_in_batches`): the rollups the admin's reports
/// read, emptied — the `owner_touch` buckets (`store::report_keys`) and the fee rollups
/// (`store::fees`: paid and refunded per officer by day and month, outstanding by
/// disbursement day); the batches (`v34_batch`) count them from `owner_touch` and the fee
/// accounts.
fn to_34_report_rollups(tx: &WriteTransaction) -> Result<()> {
    tx.delete_table(tables::OWNER_TOUCH_BUCKETS)?;
    tx.open_table(tables::OWNER_TOUCH_BUCKETS)?;
    super::fees::clear_rollups(tx)?;
    super::funnel::clear_leads(tx)
}

fn create_v9(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::CUSTOMER_RULES)?;
    tx.open_table(tables::CUSTOMER_ACTIVITY)?;
    Ok(())
}

/// The change that brings the schema to `to` from `to - 1`.
fn step(tx: &WriteTransaction, to: u64) -> Result<()> {
    match to {
        2 => {
            // Usernames became unique and case-insensitive: build the index from the users.
            let users = tx.open_table(tables::USERS)?;
            let mut by_name = tx.open_table(tables::USERS_BY_NAME)?;
            for row in users.iter()? {
                let (id, bytes) = row?;
                let user: serde_json::Value = codec::decode("users", bytes.value())?;
                let name = user
                    .get("username")
                    .and_then(|n| n.as_str())
                    .ok_or_else(|| Error::Corrupt {
                        table: "users",
                        message: format!("user {} has no username", id.value()),
                    })?
                    .to_lowercase();
                if by_name.insert(name.as_str(), id.value())?.is_some() {
                    return Err(Error::Conflict(format!(
                        "two users share the username {name}; rename one with an older zhudai first"
                    )));
                }
            }
            tx.open_table(tables::SESSIONS)?;
            tx.open_table(tables::SETUP)?;
            Ok(())
        }
        3 => {
            tx.open_table(tables::AUDIT)?;
            Ok(())
        }
        4 => {
            tx.open_table(tables::DEPARTMENTS)?;
            tx.open_table(tables::API_TOKENS)?;
            tx.open_table(tables::API_TOKEN_HASHES)?;
            seed_roles(tx)
        }
        5 => {
            tx.open_table(tables::CUSTOMERS)?;
            tx.open_table(tables::CUSTOMER_KEYS_V34)?;
            tx.open_table(tables::REVEALS)?;
            Ok(())
        }
        6 => {
            tx.open_table(tables::FOLLOWUPS)?;
            tx.open_table(tables::CUSTOMER_EVENTS_V35)?;
            Ok(())
        }
        7 => {
            tx.open_table(tables::SETTINGS)?;
            Ok(())
        }
        8 => create_v8(tx),
        // The first batch of a rebuild from the records (`run_in_batches`): empty tables.
        9 => {
            tx.delete_table(tables::CUSTOMER_RULES)?;
            tx.delete_table(tables::CUSTOMER_ACTIVITY)?;
            create_v9(tx)
        }
        10 => {
            tx.delete_table(tables::OWNER_LOADS)?;
            tx.open_table(tables::OWNER_LOADS)?;
            Ok(())
        }
        // Records are rewritten and pool counters added batch by batch; nothing to create.
        11 => Ok(()),
        12 => key_audit_chain(tx),
        13 => {
            let n = super::loads::count_bin_v34(tx)?;
            tracing::info!(customers = n, "recycle bin counted");
            Ok(())
        }
        14 => grant_sales_own_phones(tx),
        // The pool-page keys are added batch by batch; nothing to create.
        15 => Ok(()),
        16 => create_v16(tx),
        17 => {
            tx.open_table(tables::CUSTOMER_MATCH)?;
            Ok(())
        }
        18 => super::funnel::create(tx, chrono::Utc::now()),
        19 => {
            tx.open_table(tables::NOTICES)?;
            Ok(())
        }
        20 => {
            tx.open_table(tables::TRANSFER_REQUESTS)?;
            tx.open_table(tables::TRANSFER_KEYS)?;
            Ok(())
        }
        21 => create_v21(tx),
        22 => super::funnel::build_month_rollups(tx),
        23 => to_23_blobs(tx),
        24 => to_24_leads(tx),
        25 => to_25_fees(tx),
        26 => to_26_contracts(tx),
        27 => to_27_calls(tx),
        28 => to_28_channels(tx),
        29 => to_29_product_names(tx),
        30 => to_30_report_keys(tx),
        31 => to_31_brokers(tx),
        32 => to_32_compact(tx),
        33 => Ok(()),
        34 => to_34_report_rollups(tx),
        35 => to_35_binary_keys(tx),
        36 => super::v36::first(tx),
        37 => {
            tx.delete_table(tables::CUSTOMER_ACTIVITY)?;
            tx.open_table(tables::CUSTOMER_ACTIVITY)?;
            Ok(())
        }
        38 => {
            tx.open_table(tables::IMPORT_KEY_LOG)?;
            Ok(())
        }
        39 => {
            // Emptied by the first batch: entries appended by earlier steps of this upgrade
            // may have filled them already.
            tx.delete_table(tables::AUDIT_BY)?;
            tx.delete_table(tables::AUDIT_COUNTS)?;
            tx.open_table(tables::AUDIT_BY)?;
            tx.open_table(tables::AUDIT_COUNTS)?;
            Ok(())
        }
        _ => Err(Error::Corrupt {
            table: "meta",
            message: format!("no migration to schema version {to}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is a failed test
    use super::*;

    /// Step 34 in batches of 3: the cursor goes through the `owner_touch` phase, then the fee
    /// phase (also when a batch ends both), and the rollups built are those a one-batch run builds.
    #[test]
    fn step_34_batches_resume_across_their_two_phases() {
        use crate::domain::fee::FeeAccount;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let account = |i: usize| FeeAccount {
            deal_id: format!("d{i}"),
            officer_id: format!("o{}", i % 2),
            disbursed_on: chrono::NaiveDate::from_ymd_opt(2026, 3, 1 + i as u32).unwrap(),
            disbursed_fen: 1_000_000,
            fee_fen: 30_000,
            fee_rule: "t".into(),
            rebate_fen: 0,
            payments: vec![],
            refunds: vec![],
            waivers: vec![],
            rebate_receipts: vec![],
            lines: vec![],
        };
        store
            .write(|tx| {
                let mut t = tx.open_table(tables::OWNER_TOUCH)?;
                for i in 0..4i64 {
                    t.insert(
                        ("o1", 1_800_000_000 + i * 90_000, format!("c{i}").as_str()),
                        (),
                    )?;
                }
                drop(t);
                for i in 0..5 {
                    super::super::fees::put_account(tx, None, &account(i))?;
                }
                let mut c = tx.open_table(tables::COUNTERS)?;
                c.insert("fe/customer/2026-03-01/o1/lead", 2)?;
                c.insert("fe/customer/2026-03-01/o1/contacted", 1)?;
                Ok::<_, Error>(())
            })
            .unwrap();
        let snapshot = |store: &Store| {
            store
                .read(|tx| {
                    let b: Vec<_> = tx
                        .open_table(tables::OWNER_TOUCH_BUCKETS)?
                        .iter()?
                        .map(|r| {
                            let (k, v) = r.unwrap();
                            let (o, l, b) = k.value();
                            (o.to_string(), l, b, v.value())
                        })
                        .collect();
                    let f: Vec<_> = tx
                        .open_table(tables::FEE_TOTALS)?
                        .iter()?
                        .map(|r| {
                            let (k, v) = r.unwrap();
                            (k.value().to_string(), v.value())
                        })
                        .collect();
                    let l: Vec<_> = tx
                        .open_table(tables::COUNTERS)?
                        .range("fl/".."fl0")?
                        .map(|r| {
                            let (k, v) = r.unwrap();
                            (k.value().to_string(), v.value() as i64)
                        })
                        .collect();
                    let f = f.into_iter().chain(l).collect::<Vec<_>>();
                    Ok::<_, Error>((b, f))
                })
                .unwrap()
        };
        // One batch for all: the reference.
        store
            .write(|tx| {
                to_34_report_rollups(tx)?;
                v34_batch(tx, None, 1000).map(drop)
            })
            .unwrap();
        let kept = snapshot(&store);
        // 4 days of one 32-day block; an outstanding balance per account.
        assert_eq!(kept.0.len(), 4 + 1, "{kept:?}");
        assert_eq!(kept.1.len(), 5 + 1, "{kept:?}");
        let mut cursors = Vec::new();
        store
            .write(|tx| {
                to_34_report_rollups(tx)?;
                let mut after: Option<String> = None;
                loop {
                    let (last, n) = v34_batch(tx, after.as_deref(), 3)?;
                    cursors.push(last.clone());
                    if n < 3 {
                        break;
                    }
                    after = last;
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        // 4 keys + 5 accounts + 2 funnel rows in 3s: t:…(3), f:d1 (1 key + 2 accounts),
        // f:d4 (3), l:… (the 2 funnel rows, fewer than 3: done).
        let phases: Vec<Option<char>> = cursors
            .iter()
            .map(|c| c.as_ref().and_then(|c| c.chars().next()))
            .collect();
        assert_eq!(
            phases,
            [Some('t'), Some('f'), Some('f'), Some('l')],
            "{cursors:?}"
        );
        assert_eq!(snapshot(&store), kept);
    }
}
