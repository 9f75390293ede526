//! Claim, release and locks: how customers leave and enter the public pools by hand. The rule
//! check and the write of a claim share one write transaction (redb runs one writer at a
//! time), so concurrent claims have exactly one winner and limits hold exactly.

use serde::Deserialize;
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::customer::Customer;
use crate::domain::org::{Department, User};
use crate::domain::pool::Pool;
use crate::service::access::auth::Caller;
use crate::service::customers::CustomerView;
use crate::service::pools::rules::{ClaimDecision, ClaimInput};
use crate::service::pools::{claim_key, into_pool, is_member, owned_counts, target_pool};
use crate::service::{Error, Result};
use crate::store::customers::{Reader, Unscoped};
use crate::store::{WriteTransaction, pools, users};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ReleaseRequest {
    /// Why the customer goes back to the pool (required).
    #[serde(default)]
    pub reason: String,
    /// The pool to release into; default: the owner's department pool or the firm-wide one.
    #[serde(default)]
    pub pool_id: Option<String>,
}

impl crate::service::pools::UseCases<'_> {
    /// 领取: takes a customer out of its pool. The rule check and the write happen in one
    /// write transaction, so among concurrent claims exactly one wins and limits are exact.
    pub fn claim_customer(&self, caller: &Caller, id: &str, source: &str) -> Result<CustomerView> {
        caller.require(Capability::PoolClaim)?;
        let ctx = self.ctx(caller, source)?;
        let now = ctx.now;
        ctx.write(|w| {
            let tx = w.tx;
            // Unscoped: a claim is decided by pool membership and the claim rule below.
            let before = Reader::unscoped(tx, Unscoped::PoolRules)
                .live(id)?
                .ok_or(Error::NotFound)?;
            let departments = crate::store::org::departments_w(tx)?;
            let Some(pool_id) = before.pool_id.clone().filter(|_| before.owner_id.is_none()) else {
                return Err(self.claimed_already(tx, caller, &before, &departments)?);
            };
            let pool = pools::get_w(tx, &pool_id)?
                .filter(|p| is_member(p, &caller.user, &departments))
                .ok_or(Error::NotFound)?;
            let key = claim_key(&caller.user.id, &pool.id, now);
            let input = claim_input(tx, &caller.user, &before, &pool, now)?;
            if let ClaimDecision::Refuse { rule, reason } = self.claim_rule(&input)? {
                return Err(Error::Refused {
                    code: "claim_refused",
                    message: format!("{reason}（规则：{rule}）"),
                    details: json!({ "rule": rule, "reason": reason }),
                });
            }
            let mut c = before.clone();
            c.owner_id = Some(caller.user.id.clone());
            c.pool_id = None;
            c.pool_reason = None;
            c.held_since = Some(now);
            c.locked = false;
            c.updated_at = now;
            w.put(Some(&before), &c)?;
            pools::bump(tx, &key)?;
            crate::store::report_keys::on_claim(
                tx,
                &c.id,
                &caller.user.id,
                &pool.id,
                &super::day_key(now),
            )?;
            w.event(
                &c.id,
                "claimed",
                Some(pool.id.clone()),
                Some(caller.user.id.clone()),
                None,
            )?;
            w.audit(
                "customer.claimed",
                Some(&c.id),
                json!({"pool_id": pool.id, "previous_owner_id": before.previous_owner_id}),
            )?;
            self.viewer(caller).view(&c)
        })
    }

    /// The answer to a claim of a customer that is not waiting in a pool: "already claimed"
    /// for members of the pool it was claimed from, "not found" for everyone else.
    fn claimed_already(
        &self,
        tx: &WriteTransaction,
        caller: &Caller,
        c: &Customer,
        departments: &[Department],
    ) -> Result<Error> {
        if c.owner_id.as_deref() == Some(caller.user.id.as_str()) {
            return Ok(Error::Conflict {
                code: "already_owned",
                message: "该客户已在您名下".into(),
            });
        }
        let last_claim_pool = Reader::unscoped(tx, Unscoped::PoolRules)
            .events(c)?
            .into_iter()
            .rev()
            .find(|e| e.kind == "claimed" || e.kind == "assigned")
            .and_then(|e| e.from);
        let member = match last_claim_pool {
            Some(p) => {
                pools::get_w(tx, &p)?.is_some_and(|p| is_member(&p, &caller.user, departments))
            }
            None => false,
        };
        Ok(if member {
            Error::Conflict {
                code: "already_claimed",
                message: "该客户已被他人领取".into(),
            }
        } else {
            Error::NotFound
        })
    }

    /// 释放: the owner (or a manager who sees the customer) puts it back into a pool.
    pub fn release_customer(
        &self,
        caller: &Caller,
        id: &str,
        req: ReleaseRequest,
        source: &str,
    ) -> Result<CustomerView> {
        caller.require(Capability::CustomerRead)?;
        let reason = req.reason.trim().to_string();
        if reason.is_empty() {
            return Err(Error::validation("reason", "请填写释放原因"));
        }
        if reason.chars().count() > 200 {
            return Err(Error::validation("reason", "释放原因最多200个字符"));
        }
        let ctx = self.ctx(caller, source)?;
        let now = ctx.now;
        ctx.write(|w| {
            let tx = w.tx;
            let before = w.live(id)?;
            let Some(owner_id) = before.owner_id.clone() else {
                return Err(Error::Unprocessable {
                    code: "not_owned",
                    message: "该客户已在公海中".into(),
                });
            };
            if owner_id != caller.user.id && !caller.can(Capability::CustomerTransfer) {
                return Err(Error::Forbidden(
                    Capability::CustomerTransfer.as_str().into(),
                ));
            }
            let all = pools::all_w(tx)?;
            let departments = crate::store::org::departments_w(tx)?;
            let pool = match &req.pool_id {
                Some(p) => all
                    .iter()
                    .find(|x| &x.id == p)
                    .ok_or_else(|| Error::validation("pool_id", "公海不存在"))?,
                None => {
                    let owner = users::find_by_id_w(tx, &owner_id)?;
                    target_pool(
                        &all,
                        &departments,
                        owner.as_ref().and_then(|u| u.department_id.as_deref()),
                    )
                    .ok_or_else(|| Error::Unprocessable {
                        code: "no_pool",
                        message: "尚未设置公海，请联系管理员".into(),
                    })?
                }
            };
            let mut c = before.clone();
            into_pool(&mut c, pool, now, &reason);
            w.put(Some(&before), &c)?;
            pools::remove_counter(tx, &format!("recall_warn/{owner_id}/{}", c.id))?;
            w.event(
                &c.id,
                "released",
                Some(owner_id.clone()),
                Some(pool.id.clone()),
                Some(reason.clone()),
            )?;
            w.audit(
                "customer.released",
                Some(&c.id),
                json!({"from": owner_id, "pool_id": pool.id, "reason": reason}),
            )?;
            self.viewer(caller).view(&c)
        })
    }

    /// Locks (or unlocks) one of the caller's own customers: locked customers are never
    /// recalled. The caller's roles' `lock_limit` caps how many they may hold locked.
    pub fn set_customer_lock(
        &self,
        caller: &Caller,
        id: &str,
        lock: bool,
        source: &str,
    ) -> Result<CustomerView> {
        caller.require(Capability::CustomerRead)?;
        let ctx = self.ctx(caller, source)?;
        let limit = caller.access.lock_limit;
        ctx.write(|w| {
            let before = w.live(id)?;
            if before.owner_id.as_deref() != Some(caller.user.id.as_str()) {
                return Err(Error::Unprocessable {
                    code: "not_owner",
                    message: "只能锁定自己名下的客户".into(),
                });
            }
            if before.locked == lock {
                return self.viewer(caller).view(&before);
            }
            if lock {
                let (_, _, locked) = owned_counts(w.tx, &caller.user.id)?;
                if locked >= u64::from(limit) {
                    return Err(Error::Refused {
                        code: "lock_limit",
                        message: format!("最多可锁定{limit}个客户"),
                        details: json!({ "limit": limit }),
                    });
                }
            }
            let mut c = before.clone();
            c.locked = lock;
            c.updated_at = w.now();
            w.put(Some(&before), &c)?;
            let (kind, action) = if lock {
                ("locked", "customer.locked")
            } else {
                ("unlocked", "customer.unlocked")
            };
            w.event(&c.id, kind, None, None, None)?;
            w.audit(action, Some(&c.id), json!({}))?;
            self.viewer(caller).view(&c)
        })
    }
}

/// What `pool.can_claim` is asked for `user` claiming `c` from `pool` at `now`: the user's
/// owned counts and today's claims in the pool as they stand in `tx`. The claim and the
/// plugin page's try-it panel both build the input here.
pub(crate) fn claim_input(
    tx: &WriteTransaction,
    user: &User,
    c: &Customer,
    pool: &Pool,
    now: DateTime<Utc>,
) -> Result<ClaimInput> {
    let (owned, not_won, _) = owned_counts(tx, &user.id)?;
    Ok(ClaimInput {
        customer: c.clone(),
        pool: pool.clone(),
        user: user.clone(),
        owned_count: owned,
        owned_count_excluding_won: not_won,
        claims_today_in_pool: pools::counter_w(tx, &claim_key(&user.id, &pool.id, now))?,
        last_released_by_this_user_at: c
            .pool_entered_at
            .filter(|_| c.previous_owner_id.as_deref() == Some(&user.id)),
        entered_pool_at: c.pool_entered_at,
        deal_stage: crate::store::deals::lead_stage(tx, &c.id)?,
        now,
    })
}
