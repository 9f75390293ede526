//! Bulk actions on selected customers (批量操作): all or nothing. Every id is checked against
//! the caller's scope inside one write transaction; one id out of scope (or absent, or in the
//! recycle bin) makes the whole request "not found" and nothing changes.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::customer::{self, CustomerInput, Stage};
use crate::service::access::auth::Caller;
use crate::service::{Error, Result};

/// Most ids in one request.
pub const MAX_BULK: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Tag,
    Untag,
    SetGrade,
    SetStage,
    Transfer,
    Delete,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct BulkRequest {
    pub ids: Vec<String>,
    pub action: BulkAction,
    /// For `tag` and `untag`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// For `set_grade` (`A`–`D`, or null to clear).
    pub grade: Option<String>,
    /// For `set_stage`.
    pub stage: Option<Stage>,
    /// For `transfer`.
    pub to_user: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkResult {
    pub action: BulkAction,
    /// Customers the action was applied to.
    pub count: usize,
}

impl crate::service::customers::UseCases<'_> {
    pub fn bulk_customers(
        &self,
        caller: &Caller,
        req: BulkRequest,
        source: &str,
    ) -> Result<BulkResult> {
        caller.require(match req.action {
            BulkAction::Transfer => Capability::CustomerTransfer,
            BulkAction::Delete => Capability::CustomerDelete,
            _ => Capability::CustomerEdit,
        })?;
        let mut ids = req.ids.clone();
        ids.sort();
        ids.dedup();
        if ids.is_empty() || ids.len() > MAX_BULK {
            return Err(Error::validation(
                "ids",
                format!("请选择1到{MAX_BULK}个客户"),
            ));
        }
        let today = self
            .now()
            .with_timezone(&crate::service::customers::shanghai())
            .date_naive();
        // The same rules as a single edit.
        let probe = CustomerInput {
            tags: (!req.tags.is_empty()).then(|| req.tags.clone()),
            grade: req.grade.clone(),
            ..Default::default()
        };
        customer::check(&probe, false, today).map_err(|(f, r)| Error::validation(f, r))?;
        match req.action {
            BulkAction::Tag | BulkAction::Untag if req.tags.is_empty() => {
                return Err(Error::validation("tags", "请选择标签"));
            }
            BulkAction::SetStage if req.stage.is_none() => {
                return Err(Error::validation("stage", "请选择阶段"));
            }
            BulkAction::Transfer if req.to_user.is_none() => {
                return Err(Error::validation("to_user", "请选择接收人"));
            }
            _ => {}
        }
        let ctx = self.ctx(caller, source)?;
        let now = ctx.now;
        ctx.write(|w| {
            let target = match (req.action, req.to_user.as_deref()) {
                (BulkAction::Transfer, Some(to)) => {
                    Some(crate::service::customers::recipient::recipient(
                        w.tx, &ctx.scope, to, "to_user",
                    )?)
                }
                _ => None,
            };
            let mut count = 0;
            for id in &ids {
                let before = w.live(id)?;
                let mut c = before.clone();
                let mut event = None;
                match req.action {
                    BulkAction::Tag => {
                        for t in &req.tags {
                            let t = t.trim().to_string();
                            if !c.tags.contains(&t) {
                                c.tags.push(t);
                            }
                        }
                        if c.tags.len() > 30 {
                            return Err(Error::validation("tags", "每位客户最多30个标签"));
                        }
                    }
                    BulkAction::Untag => c.tags.retain(|t| !req.tags.contains(t)),
                    BulkAction::SetGrade => c.grade = req.grade.clone(),
                    BulkAction::SetStage => {
                        if let Some(s) = req.stage {
                            c.stage = s;
                        }
                        if c.stage != before.stage {
                            event = Some((
                                "stage_changed",
                                stage_name(before.stage),
                                stage_name(c.stage),
                            ));
                        }
                    }
                    BulkAction::Transfer => {
                        if let Some(t) = &target {
                            c.owner_id = Some(t.id.clone());
                            c.pool_id = None;
                            c.pool_reason = None;
                        }
                        if c.owner_id != before.owner_id {
                            event =
                                Some(("transferred", before.owner_id.clone(), c.owner_id.clone()));
                        }
                    }
                    BulkAction::Delete => c.deleted_at = Some(now),
                }
                if c == before {
                    continue;
                }
                c.updated_at = now;
                w.put(Some(&before), &c)?;
                if let Some((kind, from, to)) = event {
                    w.event(&c.id, kind, from, to, Some("批量操作".into()))?;
                }
                count += 1;
            }
            w.audit(
                "customer.bulk",
                None,
                json!({"action": req.action, "count": count, "selected": ids.len(),
                       "tags": req.tags, "grade": req.grade, "stage": req.stage,
                       "to_user": target.as_ref().map(|t| t.id.clone())}),
            )?;
            Ok(BulkResult {
                action: req.action,
                count,
            })
        })
    }
}

fn stage_name(s: Stage) -> Option<String> {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
}
