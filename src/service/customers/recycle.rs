//! The recycle bin (回收站) and erasure for a personal-information deletion request (PIPL
//! art. 47). Deleted customers can be restored by an admin for `customers.recycle_days`;
//! after that they are purged. Purging and erasure anonymise the record in place: the name
//! becomes 已删除, phones, ID number, address, company and custom values are dropped with
//! their blind-index keys (so the number may be entered again), follow-up text is replaced.
//! The record keeps `deleted_at`, so the search indexer drops it through the outbox that
//! `customers::put` writes. Purging runs lazily, when the recycle bin is listed or a restore
//! is attempted ([`App::purge_recycle_bin`] can also be called by a job).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::customer::{Customer, Sealed};
use crate::service::access::auth::Caller;
use crate::service::customers::CustomerView;
use crate::service::{Error, Result, access::audit};
use crate::store::customers::{self, Reader, Unscoped};
use crate::store::{WriteTransaction, loads};

/// The name an anonymised customer is shown under.
pub const ERASED_NAME: &str = "已删除";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecycledCustomer {
    pub customer: CustomerView,
    pub deleted_at: DateTime<Utc>,
    /// Restorable until then; purged afterwards.
    pub purge_at: DateTime<Utc>,
}

/// A page of the recycle bin: `?limit=&cursor=`.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecycleBinQuery {
    /// 1–200, default 50; anything else is a 400 naming `limit`.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
}

/// The recycle bin, one page, most recently deleted first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecycleBinPage {
    pub items: Vec<RecycledCustomer>,
    /// Pass as `cursor` for the next (older) page; `null` on the last one.
    pub next_cursor: Option<String>,
    /// Customers in the bin that the caller's data scope covers.
    pub total: u64,
}

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;

fn page_limit(raw: Option<&str>) -> Result<usize> {
    match raw.map(str::trim) {
        None | Some("") => Ok(DEFAULT_PAGE),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(Error::validation(
                "limit",
                format!("每页条数应为 1 到 {MAX_PAGE} 之间的整数"),
            )),
        },
    }
}

/// The cursor is the last bin key of the previous page; a page starts just after it, so an
/// entry restored or purged meanwhile moves nothing else.
fn page_cursor(raw: Option<&str>) -> Result<Option<&str>> {
    match raw {
        None | Some("") => Ok(None),
        Some(c) if customers::is_bin_key(c) => Ok(Some(c)),
        Some(_) => Err(Error::validation(
            "cursor",
            "分页位置无效，请从第一页重新查看",
        )),
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct EraseRequest {
    /// The deletion request's reference (ticket number, letter date…), kept in the audit log.
    pub request_ref: String,
}

/// `POST /customers/{id}/erase`: what the erasure did beyond the customer record.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EraseResult {
    /// Unsigned (draft, sent, void) contracts of the customer's deals whose content was deleted.
    pub contracts_erased: usize,
    /// Signed contracts kept under PIPL art. 47 (statutory retention), from now on shown to
    /// administrators only.
    pub contracts_retained: usize,
    /// Why any were kept, in Chinese (`None` when none were).
    pub retained_reason: Option<String>,
}

fn is_erased(c: &Customer) -> bool {
    c.name == ERASED_NAME && c.phone.bidx.is_empty()
}

fn admin(caller: &Caller) -> Result<()> {
    caller.require(Capability::CustomerDelete)?;
    caller.require(Capability::SettingsManage)
}

/// Anonymises `before` in place (record, keys, follow-ups); returns the new record.
fn anonymise(
    tx: &WriteTransaction,
    before: &Customer,
    now: DateTime<Utc>,
) -> Result<(Customer, crate::service::contracts::ContractsErased)> {
    // The old record stays in redb's free pages until they are reused: compact when the store
    // is next let go or opened.
    crate::store::customers::request_scrub(tx)?;
    let mut c = before.clone();
    let blank = Sealed {
        enc: String::new(),
        bidx: String::new(),
        masked: String::new(),
        tail: String::new(),
        lead: String::new(),
    };
    c.name = ERASED_NAME.to_string();
    c.phone = blank;
    c.extra_phones.clear();
    c.id_number = None;
    c.gender = None;
    c.birth_year = None;
    c.city = None;
    c.address = None;
    c.company = None;
    c.custom.clear();
    c.demand.purpose = None;
    c.profile = Default::default();
    c.tags.clear();
    c.next_followup_at = None;
    c.deleted_at = Some(before.deleted_at.unwrap_or(now));
    c.updated_at = now;
    customers::put(tx, Some(before), &c)?;
    for mut f in Reader::unscoped(tx, Unscoped::Jobs).followups(&c)? {
        f.content = "（内容已删除）".into();
        f.outcome = None;
        customers::put_followup(tx, &f)?;
    }
    // Scans and photos of the customer's deal documents: detached here, their files removed
    // after the commit (`remove_unreferenced_files`).
    crate::service::documents::erase_customer(tx, &c.id, now)?;
    // Call recordings likewise (the calls stay, numbers masked, for the statistics).
    crate::service::calls::erase_customer(tx, &c.id, now)?;
    // Contracts: unsigned ones lose their content; signed ones are kept for the statutory
    // retention period, shown to administrators only (docs/contracts.md, "Erasure").
    let contracts = crate::service::contracts::erase_customer(tx, &c.id, now)?;
    // The deals' name snapshot (finance lists, reminders, the documents page) goes too.
    crate::store::deals::rename_customer(tx, &c.id, ERASED_NAME)?;
    Ok((c, contracts))
}

impl crate::service::customers::UseCases<'_> {
    fn recycle_days(&self) -> Duration {
        Duration::days(i64::from(self.config.customers.recycle_days.max(1)))
    }

    /// Anonymises every customer deleted longer ago than `customers.recycle_days`; returns how
    /// many. Audited as one entry with the count.
    pub fn purge_recycle_bin(&self) -> Result<usize> {
        let now = self.now();
        let cutoff = now - self.recycle_days();
        let due = self
            .store
            .read(|tx| Reader::unscoped(tx, Unscoped::Jobs).in_bin(Some(cutoff)))?;
        if due.is_empty() {
            return Ok(0);
        }
        self.store.write(|tx| {
            let mut n = 0;
            let all = Reader::unscoped(tx, Unscoped::Jobs);
            for id in &due {
                let Some(before) = all.any(id)? else {
                    continue;
                };
                if before.deleted_at.is_some_and(|d| d < cutoff) && !is_erased(&before) {
                    anonymise(tx, &before, now)?;
                    n += 1;
                }
            }
            audit::record(
                tx,
                now,
                crate::store::audit::NewAudit {
                    actor_id: None,
                    actor: "system".into(),
                    action: "customer.purged",
                    target: None,
                    detail: json!({"count": n, "recycle_days": self.config.customers.recycle_days}),
                    source: "system".into(),
                },
            )?;
            Ok::<_, Error>(n)
        })
        .inspect(|_| self.documents().remove_unreferenced_files())
    }

    /// Deleted customers still restorable, most recently deleted first (admin), one page.
    /// With a data scope of the whole firm only the page's keys and records are read and the
    /// total is the bin's counter; a narrower scope reads the bin's records to count and skip
    /// the customers it does not cover.
    pub fn recycle_bin(&self, caller: &Caller, q: &RecycleBinQuery) -> Result<RecycleBinPage> {
        admin(caller)?;
        let limit = page_limit(q.limit.as_deref())?;
        let cursor = page_cursor(q.cursor.as_deref())?;
        let scope = self.scope_of(caller)?;
        self.purge_recycle_bin()?;
        let keep = self.recycle_days();
        let whole = scope.owner_filter().is_none();
        let (page, more, total) = self.store.read(|tx| {
            let mut page: Vec<(String, Customer)> = Vec::with_capacity(limit);
            let (mut more, mut seen) = (false, 0u64);
            let read = scope.customers(tx);
            read.bin_newest_first(if whole { cursor } else { None }, |key, id| {
                if whole && page.len() == limit {
                    // A key beyond the page: there is a next one.
                    more = true;
                    return Ok(false);
                }
                // The scoped reader: out of scope or restored meanwhile reads as absent.
                let Some(c) = read.deleted(id)? else {
                    return Ok(true);
                };
                if is_erased(&c) {
                    return Ok(true);
                }
                seen += 1;
                if cursor.is_none_or(|cur| key < cur) {
                    if page.len() < limit {
                        page.push((key.to_string(), c));
                    } else {
                        more = true;
                    }
                }
                Ok(true)
            })?;
            let total = if whole { loads::bin_size(tx)? } else { seen };
            Ok::<_, Error>((page, more, total))
        })?;
        let next_cursor = more.then(|| page.last().map(|(k, _)| k.clone())).flatten();
        let viewer = self.viewer(caller);
        let mut items = Vec::with_capacity(page.len());
        for (_, c) in &page {
            if let Some(d) = c.deleted_at {
                items.push(RecycledCustomer {
                    customer: viewer.view(c)?,
                    deleted_at: d,
                    purge_at: d + keep,
                });
            }
        }
        Ok(RecycleBinPage {
            items,
            next_cursor,
            total,
        })
    }

    /// Takes a customer out of the recycle bin (admin; within `customers.recycle_days`).
    pub fn restore_customer(
        &self,
        caller: &Caller,
        id: &str,
        source: &str,
    ) -> Result<CustomerView> {
        admin(caller)?;
        self.purge_recycle_bin()?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let before = w.customers().deleted(id)?.ok_or(Error::NotFound)?;
            if is_erased(&before) {
                return Err(Error::NotFound);
            }
            let mut c = before.clone();
            c.deleted_at = None;
            c.updated_at = w.now();
            w.put(Some(&before), &c)?;
            w.event(&c.id, "restored", None, None, None)?;
            w.audit("customer.restored", Some(&c.id), json!({}))?;
            self.viewer(caller).view(&c)
        })
    }

    /// Erases a customer's personal information for a deletion request (admin). The record
    /// stays as an anonymous, deleted shell so statistics and the audit chain still add up.
    pub fn erase_customer(
        &self,
        caller: &Caller,
        id: &str,
        req: EraseRequest,
        source: &str,
    ) -> Result<EraseResult> {
        admin(caller)?;
        let reference = req.request_ref.trim().to_string();
        if reference.is_empty() || reference.chars().count() > 64 {
            return Err(Error::validation(
                "request_ref",
                "请填写删除请求编号，最多64个字符",
            ));
        }
        let ctx = self.ctx(caller, source)?;
        let contracts = ctx.write(|w| {
            let before = w.customers().any(id)?.ok_or(Error::NotFound)?;
            if is_erased(&before) {
                return Err(Error::NotFound);
            }
            let (_, contracts) = anonymise(w.tx, &before, w.now())?;
            w.event(id, "erased", None, None, None)?;
            w.audit(
                "customer.erased",
                Some(id),
                json!({"request_ref": reference, "contracts_erased": contracts.erased,
                       "contracts_retained": contracts.retained}),
            )?;
            Ok(contracts)
        })?;
        self.documents().remove_unreferenced_files();
        Ok(EraseResult {
            contracts_erased: contracts.erased,
            contracts_retained: contracts.retained,
            retained_reason: (contracts.retained > 0).then(|| {
                format!(
                    "保留 {} 份已签署合同：依《个人信息保护法》第四十七条，法律、行政法规规定的保存期限未届满的，\
                     只停止除存储和必要安全保护措施之外的处理；这些合同今后仅管理员可查看",
                    contracts.retained
                )
            }),
        })
    }
}
