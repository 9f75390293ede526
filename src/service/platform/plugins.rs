//! Plugin administration: list, read, save (versioned, audited, written atomically), roll
//! back, and try a hook against a real customer. Needs `plugin.manage`. A source that does not
//! compile is refused with its file, line and message, and the running version stays.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::pool::{Pool, PoolSettings};
use crate::script::{self, AssignCandidate, AssignInput, PluginStatus, RecallInput, ScriptError};
use crate::service::access::auth::Caller;
use crate::service::{Error, Result, access::audit, new_id};
use crate::store::audit::NewAudit;
use crate::store::{self, plugins::PluginVersion, tables};

/// Why a save was refused (nothing was changed).
#[derive(Debug, Clone)]
pub enum SaveRefused {
    /// It does not compile.
    Compile(ScriptError),
    /// Its inline tests or horizon check fail (every failure, the first first).
    Checks(Vec<ScriptError>),
}

/// Plugin sources larger than this are refused.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginVersionMeta {
    pub id: String,
    pub author: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
    pub lines: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginVersionView {
    pub id: String,
    pub name: String,
    pub source: String,
    pub author: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginDetail {
    #[serde(flatten)]
    pub status: PluginStatus,
    /// The source on disk (or the built-in default when there is no file).
    pub source: String,
    /// The built-in default, for comparison and reset.
    pub default_source: Option<String>,
    /// Saved versions, newest first.
    pub versions: Vec<PluginVersionMeta>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PluginSave {
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PluginRollback {
    pub version: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginTry {
    /// The instant to decide at (RFC 3339; default: now), e.g. to preview a recall date.
    #[serde(default)]
    pub now: Option<DateTime<Utc>>,
    /// `pool.recall`, `pool.can_claim`, `assign.pick` or `products.score` (or `recall`,
    /// `can_claim`, `pick`, `score`).
    pub hook: String,
    pub customer_id: String,
    #[serde(default)]
    pub pool_id: Option<String>,
    /// Pool settings to try with (defaults when absent); ignored when `pool_id` names a pool.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub pool: Option<PoolSettings>,
    /// `assign.pick`: round_robin, weighted, least_loaded or by_city.
    #[serde(default)]
    pub mode: Option<String>,
    /// `pool.can_claim`: the user who would claim (default: me); their owned counts and
    /// today's claims in the pool are the real ones, as a claim would see them.
    #[serde(default)]
    pub user_id: Option<String>,
    /// `products.score`: the product to score the customer against (required).
    #[serde(default)]
    pub product_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginTryResult {
    pub hook: String,
    /// The decision as a map (`recall`/`warn`/`keep`, `allow`/`rule`, `user_id`) with `reason`.
    #[schema(value_type = Object)]
    pub decision: Option<serde_json::Value>,
    pub error: Option<ScriptError>,
    pub elapsed_ms: u64,
}

/// How many lines a save adds and removes (a multiset comparison, enough for the audit).
pub fn diff_summary(before: &str, after: &str) -> serde_json::Value {
    use std::collections::BTreeMap;
    let mut count: BTreeMap<&str, i64> = BTreeMap::new();
    for l in before.lines() {
        *count.entry(l).or_default() -= 1;
    }
    for l in after.lines() {
        *count.entry(l).or_default() += 1;
    }
    let added: i64 = count.values().filter(|v| **v > 0).sum();
    let removed: i64 = -count.values().filter(|v| **v < 0).sum::<i64>();
    json!({
        "lines_before": before.lines().count(),
        "lines_after": after.lines().count(),
        "added": added,
        "removed": removed,
    })
}

/// The hooks a plugin file serves.
fn hooks_of(name: &str) -> Vec<&str> {
    if script::report::is_report(name) {
        return vec![name];
    }
    script::hooks::HOOKS
        .iter()
        .filter(|h| h.plugin == name)
        .map(|h| h.name)
        .collect()
}

fn check_name(name: &str) -> Result<()> {
    if script::valid_name(name) {
        Ok(())
    } else {
        Err(Error::validation(
            "name",
            "插件名只能包含小写字母、数字、下划线和连字符（自定义报表为 report.名称）",
        ))
    }
}

/// Writes a file through a temporary sibling and a rename, so a reader never sees half of it.
fn write_atomically(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("rhai.tmp");
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path)
}

impl crate::service::platform::UseCases<'_> {
    pub fn list_plugins(&self, caller: &Caller) -> Result<Vec<PluginStatus>> {
        caller.require(Capability::PluginManage)?;
        self.sync_plugin_versions()?;
        Ok(self.plugins.list())
    }

    pub fn get_plugin(&self, caller: &Caller, name: &str) -> Result<PluginDetail> {
        caller.require(Capability::PluginManage)?;
        check_name(name)?;
        self.sync_plugin_versions()?;
        let status = self
            .plugins
            .list()
            .into_iter()
            .find(|s| s.name == name)
            .ok_or(Error::NotFound)?;
        let versions = self.store.read(|tx| store::plugins::list(tx, name))?;
        Ok(PluginDetail {
            status,
            source: self.plugins.source(name).unwrap_or_default(),
            default_source: script::default_source(name).map(str::to_string),
            versions: versions
                .into_iter()
                .map(|(id, v)| PluginVersionMeta {
                    id,
                    author: v.author,
                    at: v.at,
                    note: v.note,
                    lines: v.source.lines().count(),
                })
                .collect(),
        })
    }

    pub fn plugin_version(
        &self,
        caller: &Caller,
        name: &str,
        version: &str,
    ) -> Result<PluginVersionView> {
        caller.require(Capability::PluginManage)?;
        check_name(name)?;
        let v = self
            .store
            .read(|tx| store::plugins::get(tx, name, version))?
            .ok_or(Error::NotFound)?;
        Ok(PluginVersionView {
            id: version.to_string(),
            name: name.to_string(),
            source: v.source,
            author: v.author,
            at: v.at,
            note: v.note,
        })
    }

    /// Saves a new source. `Ok(Err(_))`: it does not compile, or its inline tests or horizon
    /// check fail (nothing was changed) — unless `force`, which saves a source that compiles
    /// anyway (audited with the failures).
    pub fn save_plugin(
        &self,
        caller: &Caller,
        name: &str,
        input: PluginSave,
        force: bool,
        source_label: &str,
    ) -> Result<std::result::Result<PluginDetail, SaveRefused>> {
        caller.require(Capability::PluginManage)?;
        check_name(name)?;
        if input.source.len() > MAX_SOURCE_BYTES {
            return Err(Error::validation(
                "source",
                format!("插件源码不能超过 {} KB", MAX_SOURCE_BYTES / 1024),
            ));
        }
        let compiled = match self.plugins.compile(name, &input.source) {
            Ok(c) => c,
            Err(e) => return Ok(Err(SaveRefused::Compile(e))),
        };
        let failures =
            script::check::check_compiled(&self.plugins, name, &input.source, &compiled).failures;
        if !failures.is_empty() && !force {
            return Ok(Err(SaveRefused::Checks(failures)));
        }
        self.sync_plugin_versions()?;
        let before = self.plugins.source(name).unwrap_or_default();
        let now = self.clock.now();
        let id = new_id(now);
        let path = self.plugins.dir().join(script::file_name(name));
        let note = input.note.filter(|n| !n.trim().is_empty());
        self.store.write(|tx| {
            store::plugins::put(
                tx,
                name,
                &id,
                &PluginVersion {
                    source: input.source.clone(),
                    author: caller.user.id.clone(),
                    at: now,
                    note: note.clone(),
                },
            )?;
            let mut detail = diff_summary(&before, &input.source);
            detail["version"] = json!(id);
            detail["note"] = json!(note);
            if !failures.is_empty() {
                detail["forced"] = json!(true);
                detail["failures"] =
                    json!(failures.iter().map(ToString::to_string).collect::<Vec<_>>());
            }
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "plugin.saved",
                    source_label,
                    Some(name.to_string()),
                    detail,
                ),
            )?;
            // The file last, so a failed write aborts the version and the audit row.
            write_atomically(&path, &input.source)
                .map_err(|e| Error::Internal(format!("writing {}: {e}", path.display())))
        })?;
        self.plugins.add_stored(name, &id, &input.source);
        self.plugins.errors.reset(&hooks_of(name));
        self.plugins.invalidate();
        Ok(Ok(self.get_plugin(caller, name)?))
    }

    /// Deletes a plugin file: the built-in default (when there is one) serves its hooks again.
    /// Its saved versions stay (a rollback restores one). Audited.
    pub fn delete_plugin(&self, caller: &Caller, name: &str, source_label: &str) -> Result<()> {
        caller.require(Capability::PluginManage)?;
        check_name(name)?;
        self.sync_plugin_versions()?;
        let path = self.plugins.dir().join(script::file_name(name));
        let Some(before) = self
            .plugins
            .list()
            .into_iter()
            .find(|p| p.name == name && p.origin == "file")
        else {
            return Err(Error::NotFound);
        };
        let now = self.clock.now();
        let lines = self.plugins.source(name).map_or(0, |s| s.lines().count());
        self.store.write(|tx| {
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "plugin.deleted",
                    source_label,
                    Some(name.to_string()),
                    json!({"lines": lines, "status": before.status}),
                ),
            )?;
            std::fs::remove_file(&path)
                .map_err(|e| Error::Internal(format!("removing {}: {e}", path.display())))
        })?;
        self.plugins.errors.reset(&hooks_of(name));
        self.plugins.invalidate();
        Ok(())
    }

    /// Records plugin files edited on disk (not through a save) as versions, audited as
    /// such (author `disk`), so every source that ever ran can be seen and rolled back to.
    pub fn sync_plugin_versions(&self) -> Result<()> {
        let edits = self.plugins.take_disk_edits();
        if edits.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut saved = Vec::new();
        self.store.write(|tx| {
            for edit in &edits {
                let id = new_id(now);
                let note = match &edit.error {
                    None => "磁盘上的修改".to_string(),
                    Some(e) => format!("磁盘上的修改（不能运行：{e}）"),
                };
                store::plugins::put(
                    tx,
                    &edit.name,
                    &id,
                    &PluginVersion {
                        source: edit.source.clone(),
                        author: "disk".into(),
                        at: now,
                        note: Some(note),
                    },
                )?;
                audit::record(
                    tx,
                    now,
                    NewAudit {
                        actor_id: None,
                        actor: "disk".into(),
                        action: "plugin.disk_edit",
                        target: Some(edit.name.clone()),
                        detail: json!({
                            "version": id,
                            "lines": edit.source.lines().count(),
                            "error": edit.error,
                        }),
                        source: "plugins directory".into(),
                    },
                )?;
                saved.push((edit.name.clone(), id, edit.source.clone()));
            }
            Ok::<_, Error>(())
        })?;
        for (name, id, source) in saved {
            self.plugins.add_stored(&name, &id, &source);
        }
        Ok(())
    }

    /// Hands the saved versions to the plugin engine (at start): a file broken at start runs
    /// the newest saved version that compiles and passes its checks.
    pub fn load_plugin_versions(&self) -> Result<()> {
        let all = self.store.read(store::plugins::all)?;
        self.plugins.set_stored(all);
        Ok(())
    }

    /// Saves an earlier version again, as a new version.
    pub fn rollback_plugin(
        &self,
        caller: &Caller,
        name: &str,
        version: &str,
        force: bool,
        source_label: &str,
    ) -> Result<std::result::Result<PluginDetail, SaveRefused>> {
        let v = self.plugin_version(caller, name, version)?;
        self.save_plugin(
            caller,
            name,
            PluginSave {
                source: v.source,
                note: Some(format!("回滚到版本 {version}")),
            },
            force,
            source_label,
        )
    }

    /// Runs a hook against a real customer in the caller's scope; nothing is written.
    pub fn try_plugin(&self, caller: &Caller, input: PluginTry) -> Result<PluginTryResult> {
        caller.require(Capability::PluginManage)?;
        let hook = script::hooks::hook(&input.hook)
            .ok_or_else(|| Error::validation("hook", "未知的挂钩"))?;
        let scope = self.scope_of(caller)?;
        let customer = self
            .store
            .read(|tx| scope.customers(tx).live(&input.customer_id))?
            .ok_or(Error::NotFound)?;
        let now = input.now.unwrap_or_else(|| self.clock.now());
        let pool = match &input.pool_id {
            Some(id) => self
                .store
                .read(|tx| {
                    store::org::decode_one::<Pool>(&tx.open_table(tables::POOLS)?, id, "pools")
                })?
                .ok_or_else(|| Error::validation("pool_id", "公海不存在"))?,
            None => Pool {
                id: "try".into(),
                name: "试运行".into(),
                department_id: None,
                members: Vec::new(),
                admins: Vec::new(),
                settings: input.pool.clone().unwrap_or_default(),
                created_at: now,
                updated_at: now,
            },
        };
        let held_since = customer
            .held_since
            .map_or(customer.created_at, |h| h.max(customer.created_at));
        // As a sweep sees the customer: with its most advanced open deal.
        let deal_stage = self
            .store
            .read(|tx| store::deals::lead_stage(tx, &customer.id))?;
        let started = std::time::Instant::now();
        let outcome: std::result::Result<serde_json::Value, ScriptError> = match hook.function {
            "recall" => self
                .plugins
                .recall(&RecallInput {
                    locked: customer.locked,
                    held_since,
                    customer: crate::domain::customer::RuleFields {
                        deal_stage,
                        ..(&customer).into()
                    },
                    pool,
                    now,
                })
                .map(|d| {
                    // The engine rule wins over the script, as in a sweep.
                    if crate::service::pools::rules::recall_forbidden(&(&customer).into()) {
                        script::hooks::recall_json(&script::RecallDecision::Keep)
                    } else {
                        script::hooks::recall_json(&d)
                    }
                }),
            "can_claim" => {
                let input = self.store.write(|tx| {
                    // Read only: the counts a real claim would see (nothing is written).
                    let user = match &input.user_id {
                        Some(id) => store::users::find_by_id_w(tx, id)?
                            .ok_or_else(|| Error::validation("user_id", "用户不存在"))?,
                        None => caller.user.clone(),
                    };
                    crate::service::pools::claims::claim_input(tx, &user, &customer, &pool, now)
                })?;
                match crate::service::pools::rules::claim_forbidden(&input) {
                    Some(d) => Ok(d),
                    None => self.plugins.can_claim(&input),
                }
            }
            .map(|d| match d {
                script::ClaimDecision::Allow => json!({"allow": true}),
                script::ClaimDecision::Refuse { rule, reason } => {
                    json!({"allow": false, "rule": rule, "reason": reason})
                }
            }),
            "score" => self.try_score(caller, &customer, input.product_id.as_deref(), now)?,
            "fee" | "split" => self.try_fee(&scope, &customer.id, hook, now)?,
            _ => {
                let mut users = self.store.read(store::users::all)?;
                users.retain(|u| u.status == crate::domain::org::UserStatus::Active);
                users.sort_by(|a, b| a.id.cmp(&b.id));
                self.plugins
                    .assign(&AssignInput {
                        customer,
                        candidates: users
                            .into_iter()
                            .map(|user| AssignCandidate {
                                user,
                                open_leads: 0,
                                weight: 1,
                            })
                            .collect(),
                        mode: input.mode.clone().unwrap_or_else(|| "round_robin".into()),
                        cursor: 0,
                        turns: Vec::new(),
                        deal_stage,
                        now,
                    })
                    .map(|d| json!({"user_id": d.user_id, "reason": d.reason}))
            }
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (decision, error) = match outcome {
            Ok(d) => (Some(d), None),
            Err(e) => (None, Some(e)),
        };
        Ok(PluginTryResult {
            hook: hook.name.to_string(),
            decision,
            error,
            elapsed_ms,
        })
    }
}

impl crate::service::platform::UseCases<'_> {
    /// `deal.fee` or `commission.split` on the customer's newest disbursed deal in the caller's
    /// scope (for `split`: a sample payment of 10,000 元 today, the officer's month volume 0).
    fn try_fee(
        &self,
        scope: &crate::service::access::scope::Scope,
        customer_id: &str,
        hook: script::Hook,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<std::result::Result<serde_json::Value, ScriptError>> {
        let filter = store::deals::Filter {
            customer: Some(customer_id.to_string()),
            ..Default::default()
        };
        let page = self
            .store
            .read(|tx| store::deals::Reader::scoped(tx, scope).page(&filter, None, 50))?;
        let Some(deal) = page.items.into_iter().find(|d| d.disbursement.is_some()) else {
            return Err(Error::validation(
                "customer_id",
                "该客户没有已放款的业务单，无法试运行服务费或提成规则",
            ));
        };
        let manager = self
            .store
            .read(|tx| store::users::get(tx, &deal.officer_id))?
            .and_then(|u| u.manager_id);
        let (channel, channel_id) = self
            .store
            .read(|tx| store::channels::of_customer(tx, &deal.customer_id))?;
        if hook.function == "fee" {
            return Ok(self
                .plugins
                .fee(&script::FeeInput {
                    deal: &deal,
                    manager_id: manager.as_deref(),
                    channel: channel.as_deref(),
                    channel_id: channel_id.as_deref(),
                    now,
                })
                .map(|d| json!({"fee_fen": d.fee_fen, "rule": d.rule})));
        }
        let on = now
            .with_timezone(&crate::service::customers::shanghai())
            .date_naive();
        let payment = crate::domain::fee::Payment {
            id: "try".into(),
            amount_fen: 1_000_000,
            paid_on: on,
            method: crate::domain::fee::PayMethod::Transfer,
            payer: None,
            receipt_no: "try".into(),
            recorded_by: String::new(),
            recorded_at: now,
        };
        Ok(self
            .plugins
            .split(&script::SplitInput {
                deal: &deal,
                fee_fen: crate::domain::fee::agreed_fee(
                    deal.product.service_fee,
                    deal.disbursement.map_or(0, |x| x.amount_fen),
                ),
                manager_id: manager.as_deref(),
                channel: channel.as_deref(),
                channel_id: channel_id.as_deref(),
                payment: &payment,
                month_volume_fen: 0,
                now,
            })
            .map(|lines| script::hooks::split_json(&lines)))
    }

    /// `products.score` on one product: the requirements first (a product the customer fails
    /// is not scored, as in matching), then the plugin.
    fn try_score(
        &self,
        caller: &Caller,
        customer: &crate::domain::customer::Customer,
        product_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<serde_json::Value, ScriptError>> {
        use crate::domain::matching::{self, Applicant, Status};
        let id = product_id.ok_or_else(|| Error::validation("product_id", "请选择产品"))?;
        let product = self
            .store
            .read(|tx| store::products::get(tx, id))?
            .ok_or_else(|| Error::validation("product_id", "产品不存在"))?;
        let age = self.viewer(caller).age(customer)?;
        let d = matching::evaluate(
            &product.terms.requirements,
            &Applicant {
                age,
                born: None,
                city: customer.city.as_deref(),
                profile: &customer.profile,
                demand: &customer.demand,
            },
        );
        if d.status == Status::Ineligible {
            return Ok(Ok(json!({"eligible": false, "failures": d.failures})));
        }
        let first = now
            .with_timezone(&crate::service::customers::shanghai())
            .date_naive();
        let estimate = matching::estimate(&product.terms, &customer.demand, first)
            .ok_or_else(|| Error::Internal(format!("product {id}: terms give no schedule")))?;
        Ok(self
            .plugins
            .score(&script::ScoreInput {
                customer,
                product: &product,
                age,
                status: if d.status == Status::Eligible {
                    "eligible"
                } else {
                    "needs_info"
                },
                missing: d.missing.iter().map(|f| f.field).collect(),
                estimate: &estimate,
                now,
            })
            .map(|s| script::hooks::score_json(&s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_summary_counts_lines() {
        let d = diff_summary("a\nb\nc\n", "a\nc\nd\ne\n");
        assert_eq!(d["added"], 2);
        assert_eq!(d["removed"], 1);
        assert_eq!(d["lines_before"], 3);
        assert_eq!(d["lines_after"], 4);
    }
}
