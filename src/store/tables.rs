//! Every redb table, in one place, so a schema change is visible in one diff.
//! Keys are ULID strings unless noted; values are `codec`-encoded records.

use redb::TableDefinition;

/// `schema_version` and other single values.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// User id → `domain::org::User`.
pub const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// Lower-cased username → user id (schema 2).
pub const USERS_BY_NAME: TableDefinition<&str, &str> = TableDefinition::new("users_by_name");
/// SHA-256 of a session token (hex) → `store::sessions::Session`.
pub const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// Single row `"setup"` → the pending first-run setup token (hash and expiry).
pub const SETUP: TableDefinition<&str, &[u8]> = TableDefinition::new("setup");
/// Sequence number → `store::audit::AuditEntry` (schema 3). Append-only, hash-chained.
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// Role key → `domain::roles::Role` (schema 4; built-in roles seeded).
pub const ROLES: TableDefinition<&str, &[u8]> = TableDefinition::new("roles");
/// Department id → `domain::org::Department` (schema 4).
pub const DEPARTMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("departments");
/// API token id → `store::tokens::ApiToken` (schema 4).
pub const API_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_tokens");
/// SHA-256 of an API token (hex) → token id (schema 4).
pub const API_TOKEN_HASHES: TableDefinition<&str, &str> = TableDefinition::new("api_token_hashes");
/// Customer id → `domain::customer::Customer` (schema 5).
pub const CUSTOMERS: TableDefinition<&str, &[u8]> = TableDefinition::new("customers");
/// Secondary keys of customers (schema 35; `store::key_codec`), bytes, no value: a kind
/// byte, a part, the customer id. `p`/`i` + phone / ID-number blind index, `o` + owner (or
/// none), `q` + pool (waiting customers), `b` + deletion time (the recycle bin), `n` + exact
/// name. One table, prefix scans.
pub const CUSTOMER_KEYS: TableDefinition<&[u8], ()> = TableDefinition::new("customer_keys_bin");
/// The text form of the customer keys, schemas 5 to 34 (`p:<index>/<id>` …): written only by
/// the migrations up to 34, emptied and dropped by step 35, which builds [`CUSTOMER_KEYS`].
pub const CUSTOMER_KEYS_V34: TableDefinition<&str, &str> = TableDefinition::new("customer_keys");
/// `<user id>/<YYYY-MM-DD>` (Asia/Shanghai) → full-value reveals that day (schema 5).
pub const REVEALS: TableDefinition<&str, u64> = TableDefinition::new("reveals");
/// `<customer id>/<follow-up id>` → `domain::followup::Followup` (schema 6).
pub const FOLLOWUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("followups");
/// A customer's timeline events (ownership and stage changes …) since schema 36
/// (`store::event_codec`): the key is the customer id as a part of `store::key_codec` (`1` +
/// its 16 ULID bytes, or `2` + text + `0`) then the event id (16 bytes, or text), so a
/// customer's events are one prefix in time order; the value is the event in format 3.
pub const CUSTOMER_EVENTS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("customer_events_bin");
/// The text form of [`CUSTOMER_EVENTS`], schemas 6 to 35: `<customer id>/<event id>` → the
/// event (JSON, or format 2 since schema 33). Moved and dropped by step 36.
pub const CUSTOMER_EVENTS_V35: TableDefinition<&str, &[u8]> =
    TableDefinition::new("customer_events");
/// Small named values of the installation, e.g. `key_check` (schema 7).
pub const SETTINGS: TableDefinition<&str, &str> = TableDefinition::new("settings");

/// Sequence → customer id: changes not yet applied to the search index (schema 8). Written
/// in the same transaction as the change; the indexer removes what it has committed.
pub const SEARCH_OUTBOX: TableDefinition<u64, &str> = TableDefinition::new("search_outbox");
/// Custom field key → definition of a firm's extra customer field (schema 8).
pub const CUSTOM_FIELDS: TableDefinition<&str, &[u8]> = TableDefinition::new("custom_fields");
/// Tag group id → group of tags (资质 / 意向 / 来源 …) (schema 8).
pub const TAG_GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("tag_groups");
/// `<user id>/<name>` → a user's saved preference, e.g. a saved customer-list view (schema 8).
pub const USER_PREFS: TableDefinition<&str, &[u8]> = TableDefinition::new("user_prefs");
/// Import job id → its progress, counts and rejected rows (schema 8).
pub const IMPORT_JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("import_jobs");
/// Template id → a saved import column mapping (schema 8).
pub const IMPORT_TEMPLATES: TableDefinition<&str, &[u8]> = TableDefinition::new("import_templates");
/// `<plugin name>/<version id>` → one saved version of a plugin's source (schema 8).
pub const PLUGIN_VERSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("plugin_versions");
/// Pool id → public pool (公海) with its members and settings (schema 8).
pub const POOLS: TableDefinition<&str, &[u8]> = TableDefinition::new("pools");
/// Counters keyed by text, e.g. `claim/<user>/<pool>/<day>` or assignment cursors (schema 8).
pub const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

/// Customer id → the compact binary rule view of the customer (`store::rule_fields`), what
/// recall rules read (schema 9). Written by `store::customers::put` with the record.
pub const CUSTOMER_RULES: TableDefinition<&str, &[u8]> = TableDefinition::new("customer_rules");
/// (day of last activity, the UTC day number; customer id) → the same compact view, owned
/// live customers only (schema 9; keyed by the second until schema 37): a sweep range-scans
/// the customers inactive since before its horizon (`store::rule_fields`).
pub const CUSTOMER_ACTIVITY: TableDefinition<(i64, &str), &[u8]> =
    TableDefinition::new("customer_activity");
/// (owner id, counter) → count (schema 10): per owner, live customers (`live`), not won
/// (`not_won`), open leads (`open_leads`), locked (`locked`) and per city (`city/<city>`), kept
/// by `store::customers::put` (`store::loads`); zero counters are absent.
pub const OWNER_LOADS: TableDefinition<(&str, &str), u64> = TableDefinition::new("owner_loads");

/// `<user id>/<seq, 16 hex digits>` → a new-lead notice for that user (schema 16;
/// `store::notices`, written by `customers::put`; the seq counter is `notice/<user id>` in
/// [`COUNTERS`]).
pub const NOTICES: TableDefinition<&str, &[u8]> = TableDefinition::new("notices");

/// `<lead-check index>/<customer id>` → "" (schema 24, `store::leads`): every phone of every
/// customer not erased (the recycle bin included), kept by `store::customers::put` with the
/// record. The index is `FieldCipher::lead_index` (keyed), so the file alone reveals nothing.
/// Since schema 35 bytes (`store::key_codec`): the index's first 128 bits as a part, then the
/// customer id; no value.
pub const LEAD_CHECK: TableDefinition<&[u8], ()> = TableDefinition::new("lead_check_bin");
/// The import key log (schema 38, `store::keylog`): `<batch, u64 big-endian><tag><key>`, no
/// value — the phone, ID-number and name keys (tag `c`) and lead-check keys (tag `l`) of the
/// customers a running CLI import created, merged into [`CUSTOMER_KEYS`] and [`LEAD_CHECK`]
/// at its end or at the next open. Empty whenever the store is open to anyone else.
pub const IMPORT_KEY_LOG: TableDefinition<&[u8], ()> = TableDefinition::new("import_key_log");
/// The audit log's filters (schema 39, `store::audit`): a kind byte (`a` action, `i` actor
/// id, `n` actor name, `p` actor id and action), the value's length (u16 big-endian) and
/// bytes, then the entry's sequence number (u64 big-endian); no value. Written with the
/// entry, so a filtered page of the log is a range, never a walk of the whole log.
pub const AUDIT_BY: TableDefinition<&[u8], ()> = TableDefinition::new("audit_by");
/// Entries per filter of [`AUDIT_BY`] (its key without the sequence number), kept in the
/// same transaction as the entries: a filtered page's total.
pub const AUDIT_COUNTS: TableDefinition<&[u8], u64> = TableDefinition::new("audit_counts");
/// The text form of [`LEAD_CHECK`], schemas 24 to 34 (`<32 hex>/<id>`): dropped by step 35.
pub const LEAD_CHECK_V34: TableDefinition<&str, &str> = TableDefinition::new("lead_check");
/// Application form id → `store::applications::Form` (schema 24).
pub const APPLICATION_FORMS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("application_forms");
/// Keys of application forms and submissions (schema 24): `s:<slug>` → form id,
/// `f:<form id>/<submission id>` → "" (the form's submissions in time order).
pub const APPLICATION_KEYS: TableDefinition<&str, &str> = TableDefinition::new("application_keys");
/// Submission id → `store::applications::Submission` (schema 24).
pub const APPLICATION_SUBMISSIONS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("application_submissions");

/// Every table above, listed once more for whole-store copies (`store::snapshot`, backups).
/// A test in `store::snapshot` fails when a fresh store has a table that is missing here.
macro_rules! every_table {
    ($($table:ident),* $(,)?; retired: $($old:ident),* $(,)?) => {
        /// The names of every table, in copy order.
        pub fn all_names() -> Vec<String> {
            vec![$(redb::TableHandle::name(&$table).to_string()),*]
        }

        /// The tables of older schemas that a store not yet migrated may still hold (a later
        /// migration drops them): known, so a copy of such a store is not refused, and copied
        /// when present.
        pub fn retired_names() -> Vec<String> {
            vec![$(redb::TableHandle::name(&$old).to_string()),*]
        }

        /// Copies every table that exists in `from` into `to` (retired ones too); returns the
        /// rows copied.
        pub fn copy_all(
            from: &redb::ReadTransaction,
            to: &redb::WriteTransaction,
        ) -> super::Result<u64> {
            let mut rows = 0;
            $(rows += super::snapshot::copy_table(from, to, $table)?;)*
            $(rows += super::snapshot::copy_table(from, to, $old)?;)*
            Ok(rows)
        }

        /// The number of rows of every table together, retired ones too (redb keeps each
        /// table's length).
        pub fn count_all(from: &redb::ReadTransaction) -> super::Result<u64> {
            let mut rows = 0;
            $(rows += super::snapshot::count_table(from, $table)?;)*
            $(rows += super::snapshot::count_table(from, $old)?;)*
            Ok(rows)
        }

        /// Every row of every table as raw bytes (key, value), by table name: for tests that
        /// compare whole stores (`tests/it/import_batches.rs`).
        pub fn dump_all(
            from: &redb::ReadTransaction,
        ) -> super::Result<std::collections::BTreeMap<String, Vec<(Vec<u8>, Vec<u8>)>>> {
            let mut out = std::collections::BTreeMap::new();
            $(out.insert(
                redb::TableHandle::name(&$table).to_string(),
                super::snapshot::dump_table(from, $table)?,
            );)*
            Ok(out)
        }
    };
}

/// Product id → `domain::product::Product`, its current version (schema 16).
pub const PRODUCTS: TableDefinition<&str, &[u8]> = TableDefinition::new("products");
/// `<product id>/<version, 8 digits>` → every version of a product as it was written
/// (schema 16).
pub const PRODUCT_VERSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("product_versions");

/// Customer id → the compact match view of a live customer (`store::match_rows`, schema 17):
/// what product matching reads, so the reverse match never parses a record.
pub const CUSTOMER_MATCH: TableDefinition<&str, &[u8]> = TableDefinition::new("customer_match");

/// The stage each customer or deal is in and since when, for the funnel's time-in-stage
/// (`store::funnel`), since schema 36: the key is a kind byte (`c` customer, `d` deal) and the
/// record id (`store::key_codec::push_id`), the value the time (Unix seconds, a zigzag varint)
/// then the stage's name.
pub const FUNNEL_SINCE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("funnel_since_bin");
/// The text form of [`FUNNEL_SINCE`], schemas 18 to 35: `fs/<kind>/<record id>` → (stage,
/// since). Moved and dropped by step 36.
pub const FUNNEL_SINCE_V35: TableDefinition<&str, (&str, i64)> =
    TableDefinition::new("funnel_since");

/// Transfer request id → `store::transfers::TransferRequest` (schema 20).
pub const TRANSFER_REQUESTS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("transfer_requests");
/// Keys of transfer requests → request id (`store::transfers`, schema 20).
pub const TRANSFER_KEYS: TableDefinition<&str, &str> = TableDefinition::new("transfer_keys");
/// Deal id → `domain::deal::Deal` (schema 21).
pub const DEALS: TableDefinition<&str, &[u8]> = TableDefinition::new("deals");
/// Secondary keys of deals → the deal's officer id (schema 21): `c:<customer>/<deal>`,
/// `o:<officer>/<deal>`, `a:<assistant>/<deal>`, `s:<stage>/<deal>`,
/// `os:<officer>/<stage>/<deal>`, `as:<assistant>/<stage>/<deal>` (`store::deals`).
pub const DEAL_KEYS: TableDefinition<&str, &str> = TableDefinition::new("deal_keys");
/// (officer id or `*`, deal stage) → deals (schema 21), kept by `store::deals::put`.
pub const DEAL_COUNTS: TableDefinition<(&str, &str), u64> = TableDefinition::new("deal_counts");

/// Blob id (64 hex digits) → `store::blobs::BlobMeta`: size, sniffed type, the wrapped blob
/// key and the records that refer to it (schema 23).
pub const BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs");
/// Blob id → Unix seconds: files whose last reference went in a committed transaction and that
/// are still to be removed from `data/blobs` (schema 23). A row left here is a failed removal:
/// `zhudai doctor` reports it and the next start retries it.
pub const BLOB_DELETIONS: TableDefinition<&str, i64> = TableDefinition::new("blob_deletions");
/// Deal id → `domain::custody::Checklist`, the deal's documents (权证) (schema 23).
pub const DEAL_DOCUMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("deal_documents");
/// Keys of held documents → `<officer id>\t<assistant id>` of their deal (schema 23):
/// `h:<status>/<deal>/<item>` for each received or lent-out item, `out:<lent out at, Unix
/// seconds, 12 digits>/<deal>/<item>` for each lent-out item (`store::custody`).
pub const DOCUMENT_KEYS: TableDefinition<&str, &str> = TableDefinition::new("document_keys");
/// Deal id → `domain::fee::FeeAccount` (schema 25, `store::fees`).
pub const FEE_ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("fee_accounts");
/// Keys of fee accounts → deal id (schema 25): `pm:<month>/<officer>/<payment or refund id>`,
/// `rcv:<officer>/<deal>`, `rb:<officer>/<deal>` (`store::fees`).
pub const FEE_KEYS: TableDefinition<&str, &str> = TableDefinition::new("fee_keys");
/// `<month>/<user>/<line id>` → `domain::fee::CommissionLine` (schema 25).
pub const COMMISSION_LINES: TableDefinition<&str, &[u8]> = TableDefinition::new("commission_lines");
/// Money totals in fen (schema 25): `vol/<month>/<officer>`, `com/<month>/<user>`,
/// `in/<month>`, `out/<month>`, moved with the records (`store::fees`).
pub const FEE_TOTALS: TableDefinition<&str, i64> = TableDefinition::new("fee_totals");
/// `<month>/u/<user id>` or `<month>/d/<department id>` → `domain::target::Target` (schema 25).
pub const TARGETS: TableDefinition<&str, &[u8]> = TableDefinition::new("targets");
/// Channel id → `store::channels::Channel` (schema 28).
pub const CHANNELS: TableDefinition<&str, &[u8]> = TableDefinition::new("channels");
/// Lower-cased channel name → channel id (schema 28): names are unique.
pub const CHANNEL_NAMES: TableDefinition<&str, &str> = TableDefinition::new("channel_names");
/// `<YYYY-MM>/<channel id>` → `store::channels::Cost`, a channel's cost of a month (schema 28).
pub const CHANNEL_COSTS: TableDefinition<&str, &[u8]> = TableDefinition::new("channel_costs");
/// `<YYYY-MM>/<metric>/<channel text>` → count or fen (schema 28): per customer channel text
/// and month, kept by `store::customers::put`, `store::deals::put` and `store::fees` in the
/// write's transaction (`store::channels`).
pub const CHANNEL_STATS: TableDefinition<&str, i64> = TableDefinition::new("channel_stats");
/// `YYYY-MM` → `store::fees::MonthClose` (schema 25).
pub const MONTHS: TableDefinition<&str, &[u8]> = TableDefinition::new("months");
/// Contract template id → its current version (`domain::contract::ContractTemplate`, schema 26).
pub const CONTRACT_TEMPLATES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("contract_templates");
/// `<template id>/<version, 8 digits>` → every saved version of a template (schema 26).
pub const CONTRACT_TEMPLATE_VERSIONS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("contract_template_versions");
/// Contract id → `domain::contract::Contract`, frozen content and signing record (schema 26).
pub const CONTRACTS: TableDefinition<&str, &[u8]> = TableDefinition::new("contracts");
/// `d:<deal>/<contract>` → "", `l:<signing token sha256>` → contract id (`store::contracts`,
/// schema 26).
pub const CONTRACT_KEYS: TableDefinition<&str, &str> = TableDefinition::new("contract_keys");

/// Call id → `domain::call::Call`, calls reported by the PBX (schema 27).
pub const CALLS: TableDefinition<&str, &[u8]> = TableDefinition::new("calls");
/// Keys of calls (`store::calls`, schema 27): `x:<external id>` → call id, `c:<customer>/<call>`,
/// `u:<call>` (unmatched), `r:<user>/<day>/<customer>` (reached that day) → empty.
pub const CALL_KEYS: TableDefinition<&str, &str> = TableDefinition::new("call_keys");

/// (owner id, last touch in Unix seconds, customer id) → empty (`store::report_keys`, schema
/// 30): every owned live customer, ordered per owner by the later of its claim and its last
/// follow-up, so "held without a follow-up for N days" (囤积) is one range per owner.
pub const OWNER_TOUCH: TableDefinition<(&str, i64, &str), ()> = TableDefinition::new("owner_touch");
/// (owner id, level, bucket) → how many `owner_touch` keys of that owner fall in the bucket
/// (`store::report_keys`, schema 34): level 0 a UTC day (`at / 86400`), level 1 a block of 32
/// such days. Moved with `owner_touch` in the same transaction, so "held, untouched since T"
/// is a sum of buckets plus the keys of T's own day, not a range over every key.
pub const OWNER_TOUCH_BUCKETS: TableDefinition<(&str, u8, i64), u64> =
    TableDefinition::new("owner_touch_buckets");
/// Referral id → `store::brokers::Referral`, a broker's referral (schema 31).
pub const REFERRALS: TableDefinition<&str, &[u8]> = TableDefinition::new("referrals");
/// Referral fee id → `store::brokers::ReferralFee`, a payable to a broker (schema 31).
pub const REFERRAL_FEES: TableDefinition<&str, &[u8]> = TableDefinition::new("referral_fees");
/// Keys of referrals and their fees (`store::brokers`, schema 31): `b:<broker>/<referral>`,
/// `m:<month>/<fee>`, `u:<fee>` (unpaid), `d:<deal>` → fee id.
pub const REFERRAL_KEYS: TableDefinition<&str, &str> = TableDefinition::new("referral_keys");

every_table!(
    META,
    USERS,
    USERS_BY_NAME,
    SESSIONS,
    SETUP,
    AUDIT,
    ROLES,
    DEPARTMENTS,
    API_TOKENS,
    API_TOKEN_HASHES,
    CUSTOMERS,
    CUSTOMER_KEYS,
    REVEALS,
    FOLLOWUPS,
    CUSTOMER_EVENTS,
    SETTINGS,
    SEARCH_OUTBOX,
    CUSTOM_FIELDS,
    TAG_GROUPS,
    USER_PREFS,
    IMPORT_JOBS,
    IMPORT_TEMPLATES,
    PLUGIN_VERSIONS,
    POOLS,
    COUNTERS,
    CUSTOMER_RULES,
    CUSTOMER_ACTIVITY,
    OWNER_LOADS,
    PRODUCTS,
    PRODUCT_VERSIONS,
    CUSTOMER_MATCH,
    FUNNEL_SINCE,
    NOTICES,
    TRANSFER_REQUESTS,
    TRANSFER_KEYS,
    DEALS,
    DEAL_KEYS,
    DEAL_COUNTS,
    BLOBS,
    BLOB_DELETIONS,
    DEAL_DOCUMENTS,
    DOCUMENT_KEYS,
    LEAD_CHECK,
    APPLICATION_FORMS,
    APPLICATION_KEYS,
    APPLICATION_SUBMISSIONS,
    FEE_ACCOUNTS,
    FEE_KEYS,
    COMMISSION_LINES,
    FEE_TOTALS,
    MONTHS,
    TARGETS,
    CONTRACT_TEMPLATES,
    CONTRACT_TEMPLATE_VERSIONS,
    CONTRACTS,
    CONTRACT_KEYS,
    CALLS,
    CALL_KEYS,
    CHANNELS,
    CHANNEL_NAMES,
    CHANNEL_COSTS,
    CHANNEL_STATS,
    OWNER_TOUCH,
    OWNER_TOUCH_BUCKETS,
    REFERRALS,
    REFERRAL_FEES,
    REFERRAL_KEYS,
    IMPORT_KEY_LOG,
    AUDIT_BY,
    AUDIT_COUNTS;
    retired: CUSTOMER_KEYS_V34,
    LEAD_CHECK_V34,
    CUSTOMER_EVENTS_V35,
    FUNNEL_SINCE_V35,
);
