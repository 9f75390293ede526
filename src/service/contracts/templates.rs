//! Contract templates: list, read, create, save (every save a new version), versions, and a
//! preview against a real deal. Changing templates needs `settings.manage` (they are the
//! firm's legal documents); reading them, `deal.edit` too (to pick one for a deal).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::UseCases;
use crate::domain::capability::Capability;
use crate::domain::contract::{self, ContractTemplate, Facts, RenderError, TemplateKind};
use crate::service::access::auth::Caller;
use crate::service::{Error, Result, new_id};
use crate::store;
use crate::store::deals::Reader as Deals;

/// A template as an admin writes it (`POST`, and `PUT` which saves a new version).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    pub kind: TemplateKind,
    pub body: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    pub items: Vec<ContractTemplate>,
}

/// `POST /contract-templates/{id}/preview`: a deal to render against, and optionally the
/// unsaved text in the editor (else the saved one).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub deal_id: String,
    pub body: Option<String>,
}

/// The rendered preview, or where it fails.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewResult {
    pub html: Option<String>,
    pub error: Option<RenderError>,
    /// Whether personal numbers are masked (the caller lacks `id_number.view_full`).
    pub masked: bool,
}

/// One placeholder of [`contract::PLACEHOLDERS`].
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlaceholderView {
    pub path: String,
    pub zh: String,
    pub en: String,
    pub masked_in_copy: bool,
}

fn may_read(caller: &Caller) -> Result<()> {
    if caller.can(Capability::SettingsManage) {
        return Ok(());
    }
    caller.require(Capability::DealEdit)
}

/// Sample facts a template is checked against when saved: a misspelt placeholder is refused
/// then, not when an officer first uses the template.
fn sample() -> Facts {
    Facts {
        firm_name: "示例公司".into(),
        customer_name: "张三".into(),
        id_number_full: "110105199001011234".into(),
        id_number_masked: "110105********1234".into(),
        phone_full: "13800000000".into(),
        phone_masked: "138****0000".into(),
        amount_fen: 10_000_000,
        term_months: 12,
        fee_rate_bp: Some(300),
        ..Facts::default()
    }
}

fn check(input: &TemplateInput) -> Result<(String, String)> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > contract::MAX_NAME_CHARS {
        return Err(Error::validation("name", "请填写模板名称（60字以内）"));
    }
    if input.body.trim().is_empty() {
        return Err(Error::validation("body", "模板内容不能为空"));
    }
    if input.body.len() > contract::MAX_BODY_BYTES {
        return Err(Error::validation("body", "模板内容不能超过 100 KB"));
    }
    contract::render(&input.body, &contract::context(&sample(), true))
        .map_err(|e| Error::validation("body", e.message))?;
    Ok((name, input.body.clone()))
}

impl UseCases<'_> {
    /// The placeholders a template may use.
    pub fn placeholders(&self, caller: &Caller) -> Result<Vec<PlaceholderView>> {
        may_read(caller)?;
        Ok(contract::PLACEHOLDERS
            .iter()
            .map(|p| PlaceholderView {
                path: p.path.into(),
                zh: p.zh.into(),
                en: p.en.into(),
                masked_in_copy: p.masked_in_copy,
            })
            .collect())
    }

    pub fn list_templates(&self, caller: &Caller) -> Result<TemplateList> {
        may_read(caller)?;
        let mut items = self
            .store
            .read(|tx| Ok::<_, Error>(store::contracts::templates(tx)?))?;
        items.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(TemplateList { items })
    }

    pub fn get_template(&self, caller: &Caller, id: &str) -> Result<ContractTemplate> {
        may_read(caller)?;
        self.store
            .read(|tx| store::contracts::template(tx, id)?.ok_or(Error::NotFound))
    }

    pub fn template_versions(&self, caller: &Caller, id: &str) -> Result<TemplateList> {
        may_read(caller)?;
        let items = self
            .store
            .read(|tx| Ok::<_, Error>(store::contracts::template_versions(tx, id)?))?;
        if items.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(TemplateList { items })
    }

    pub fn create_template(
        &self,
        caller: &Caller,
        input: TemplateInput,
        source: &str,
    ) -> Result<ContractTemplate> {
        caller.require(Capability::SettingsManage)?;
        let (name, body) = check(&input)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let now = w.now();
            let t = ContractTemplate {
                id: new_id(now),
                name,
                kind: input.kind,
                version: 1,
                body,
                active: input.active,
                created_at: now,
                updated_at: now,
                updated_by: caller.user.id.clone(),
            };
            store::contracts::put_template(w.tx, &t)?;
            w.audit(
                "contract_template.created",
                Some(&t.id),
                json!({"name": t.name, "kind": t.kind, "version": t.version}),
            )?;
            Ok(t)
        })
    }

    /// Saves a new version (contracts already made keep naming the version they came from).
    pub fn update_template(
        &self,
        caller: &Caller,
        id: &str,
        input: TemplateInput,
        source: &str,
    ) -> Result<ContractTemplate> {
        caller.require(Capability::SettingsManage)?;
        let (name, body) = check(&input)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let before = store::contracts::template(w.tx, id)?.ok_or(Error::NotFound)?;
            let now = w.now();
            let t = ContractTemplate {
                name,
                kind: input.kind,
                version: before.version + 1,
                body,
                active: input.active,
                updated_at: now,
                updated_by: caller.user.id.clone(),
                ..before.clone()
            };
            store::contracts::put_template(w.tx, &t)?;
            w.audit(
                "contract_template.updated",
                Some(&t.id),
                json!({"name": t.name, "from_version": before.version, "version": t.version,
                       "active": t.active}),
            )?;
            Ok(t)
        })
    }

    /// Renders a template (saved or the editor's text) against a deal in the caller's scope;
    /// personal numbers in full only for readers of the full copy ([`super::reads_full_copy`]).
    /// Writes nothing.
    pub fn preview_template(
        &self,
        caller: &Caller,
        id: &str,
        req: PreviewRequest,
        source: &str,
    ) -> Result<PreviewResult> {
        caller.require(Capability::SettingsManage)?;
        let full = super::reads_full_copy(caller);
        let ctx = self.ctx(caller, source)?;
        // A write transaction that is never given anything to write: the facts are read
        // where contracts read them (the one reader of a deal's borrower for contracts).
        ctx.write(|w| {
            let t = store::contracts::template(w.tx, id)?.ok_or(Error::NotFound)?;
            let d = Deals::scoped(w.tx, w.scope())
                .get(&req.deal_id)?
                .ok_or_else(|| {
                    Error::validation("deal_id", "没有这个业务单（或不在您的范围内）")
                })?;
            let facts = self.facts(w.tx, &d)?;
            let body = req.body.as_deref().unwrap_or(&t.body);
            if body.len() > contract::MAX_BODY_BYTES {
                return Err(Error::validation("body", "模板内容不能超过 100 KB"));
            }
            Ok(
                match contract::render(body, &contract::context(&facts, full)) {
                    Ok(html) => PreviewResult {
                        html: Some(html),
                        error: None,
                        masked: !full,
                    },
                    Err(e) => PreviewResult {
                        html: None,
                        error: Some(e),
                        masked: !full,
                    },
                },
            )
        })
    }
}
