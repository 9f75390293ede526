//! Contracts (合同): a deal's contract is rendered from a template version and frozen (content,
//! SHA-256, consent texts), sent as a one-time signing link, signed by the borrower on a phone
//! (`sign.rs`), verified by recomputing the hash, downloaded as a PDF (`pdf.rs`). Templates
//! and their versions in `templates.rs`. A contract is seen with its deal (out of scope: 404);
//! its full text (the borrower's whole ID number) only by holders of `id_number.view_full`,
//! everyone else reads the masked copy frozen beside it.

crate::service::use_cases!(contracts, "Contract templates, contracts and signing.");

pub mod pdf;
pub mod sign;
mod templates;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use sign::{OpenRequest, Opened, SignLimiter, SignRequest, SigningPage};
pub use templates::{PlaceholderView, PreviewRequest, PreviewResult, TemplateInput, TemplateList};

use super::access::auth::Caller;
use super::{Error, Result, new_id};
use crate::crypto::field::FieldCipher;
use crate::domain::capability::{Capability, FieldPrivilege};
use crate::domain::contract::{
    self, Consent, Contract, ContractState, Facts, GivenConsent, SigningLink, TemplateKind,
};
use crate::domain::deal::Deal;
use crate::domain::product::ServiceFee;
use crate::store;
use crate::store::customers::{Reader as Customers, Unscoped};
use crate::store::deals::Reader as Deals;

/// `POST /deals/{id}/contracts`: which template to freeze the contract from (its current
/// version).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContract {
    pub template_id: String,
    /// A manager's override of the cost cap (`deal_cost_over_cap`), with `reason`.
    #[serde(default, rename = "override")]
    pub override_cap: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /deals/{id}/contract` (docs/api.md): freeze a contract from `template` and issue its
/// signing link in one call.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractAndLink {
    /// The template's id, its name (居间服务协议) or its kind (`service_agreement`).
    pub template: String,
    #[serde(default, rename = "override")]
    pub override_cap: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /contracts/{id}/link` (the body is optional): a manager's override of the cost cap.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    #[serde(default, rename = "override")]
    pub override_cap: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /contracts/{id}/void`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    pub reason: String,
}

/// A live signing link as staff see it (never the token again after issue).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    pub id: String,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// What signing recorded, as staff see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignedView {
    pub at: chrono::DateTime<chrono::Utc>,
    pub ip: String,
    pub user_agent: String,
    pub typed_name: Option<String>,
    pub consents: Vec<GivenConsent>,
    pub link_id: String,
    pub signature_sha256: String,
    /// `data:image/png;base64,…` of the drawn signature.
    pub signature_png: String,
}

/// A contract as it leaves the service.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContractView {
    pub id: String,
    pub deal_id: String,
    pub template_id: String,
    pub template_version: u32,
    pub title: String,
    pub kind: TemplateKind,
    pub state: ContractState,
    /// The SHA-256 of the full text, for readers of the full copy only (`None` with the
    /// masked copy: the masked text plus guesses at the hidden digits, hashed, would find
    /// the number the mask hides; `""` once erasure cleared the content).
    pub content_sha256: Option<String>,
    /// The rendered HTML: in full for holders of `id_number.view_full`, else the masked copy.
    pub content: String,
    /// Whether `content` is the masked copy.
    pub masked: bool,
    pub consents: Vec<Consent>,
    pub link: Option<LinkView>,
    pub signed: Option<SignedView>,
    pub void_reason: Option<String>,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Set once the borrower's personal information was erased: what happened to this
    /// contract, in Chinese (deleted; or a signed contract retained, shown to admins only).
    pub erasure_note: Option<String>,
}

/// How erasure treated a customer's contracts (docs/contracts.md, "Erasure").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ContractsErased {
    /// Drafts, unsent, sent and void contracts: content deleted, links dead.
    pub erased: usize,
    /// Signed contracts kept under PIPL art. 47 (statutory retention), shown to admins only.
    pub retained: usize,
}

/// Whoever may erase a customer (`customer.delete` and `settings.manage`) may read a signed
/// contract retained after its borrower's erasure.
pub(crate) fn may_read_retained(caller: &Caller) -> bool {
    caller.can(Capability::CustomerDelete) && caller.can(Capability::SettingsManage)
}

/// Erasure of a customer (in the erasure's transaction): the contracts of their deals that
/// were never signed lose their content (text, masked copy, hash) and are void (a live link
/// dies); signed contracts are kept as they are — a legally required retention (PIPL art. 47;
/// a signed agreement is evidence of the service and its fee) — but from now on shown to
/// administrators only.
pub fn erase_customer(
    tx: &store::WriteTransaction,
    customer_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ContractsErased> {
    let mut out = ContractsErased::default();
    for deal_id in store::deals::ids_of_customer(tx, customer_id)? {
        for before in store::contracts::of_deal_w(tx, &deal_id)? {
            if before.erasure.is_some() {
                continue;
            }
            let mut c = before.clone();
            let retained = before.state == ContractState::Signed;
            if retained {
                c.content_masked = contract::RETAINED_NOTE.into();
                out.retained += 1;
            } else {
                c.content_enc = String::new();
                c.content_sha256 = String::new();
                c.content_masked = contract::ERASED_NOTE.into();
                if c.state != ContractState::Void {
                    c.state = ContractState::Void;
                    c.void_reason = Some("借款人个人信息已删除".into());
                }
                out.erased += 1;
            }
            c.erasure = Some(contract::ContractErasure { at: now, retained });
            c.updated_at = now;
            store::contracts::put(tx, Some(&before), &c)?;
        }
    }
    Ok(out)
}

/// A deal's contracts, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContractList {
    pub items: Vec<ContractView>,
}

/// `POST /contracts/{id}/link`: the signing URL, shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedLink {
    /// `<public_url>/sign/<token>` (relative when `server.public_url` is empty).
    pub signing_url: String,
    pub link_id: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub contract: ContractView,
}

/// `GET /contracts/{id}/verify`: the hash recomputed from the stored content. The hashes
/// themselves only for readers of the full copy (`None` otherwise, as in `ContractView`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub ok: bool,
    pub content_sha256: Option<String>,
    /// What the stored content hashes to now (empty when it cannot be read).
    pub computed_sha256: Option<String>,
    /// For a signed contract: the signature image and the signed hash check out too.
    pub signature_ok: Option<bool>,
    /// Why not, in Chinese.
    pub reason: Option<String>,
}

pub(crate) fn decrypt_content(fields: &FieldCipher, c: &Contract) -> Option<String> {
    fields.decrypt(&c.id, "content", &c.content_enc).ok()
}

pub(crate) fn signature_png(fields: &FieldCipher, c: &Contract) -> Option<Vec<u8>> {
    let s = c.signing.as_ref()?;
    let b64 = fields.decrypt(&c.id, "signature", &s.signature_enc).ok()?;
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// Recomputes a contract's hashes from what is stored.
pub fn verify(fields: &FieldCipher, c: &Contract) -> Verification {
    let mut v = Verification {
        ok: false,
        content_sha256: Some(c.content_sha256.clone()),
        computed_sha256: Some(String::new()),
        signature_ok: None,
        reason: None,
    };
    if c.erasure.is_some_and(|e| !e.retained) {
        v.reason = Some("合同内容已按个人信息删除请求清除，无法核验".into());
        return v;
    }
    let Some(content) = decrypt_content(fields, c) else {
        v.reason = Some("合同内容无法解密：存储内容已被改动或密钥不符".into());
        return v;
    };
    let computed = crate::crypto::sha256_hex(content.as_bytes());
    let content_ok = computed == c.content_sha256;
    v.computed_sha256 = Some(computed);
    if let Some(s) = &c.signing {
        let sig_ok = signature_png(fields, c)
            .is_some_and(|png| crate::crypto::sha256_hex(&png) == s.signature_sha256)
            && s.content_sha256 == c.content_sha256;
        v.signature_ok = Some(sig_ok);
        if !sig_ok {
            v.reason = Some("签名图片或签署时的内容哈希与记录不符".into());
        }
    }
    if !content_ok {
        v.reason = Some("合同内容的哈希与冻结时不一致：内容已被改动".into());
    }
    v.ok = content_ok && v.signature_ok != Some(false);
    v
}

/// Whether the deal has a signed service agreement (居间服务协议) whose hashes verify (read in
/// the move's write transaction, after the deal's scope was checked). An authorisation letter
/// or a fee confirmation is not the agreement 签约 stands for.
pub fn has_signed_contract(
    tx: &store::WriteTransaction,
    fields: &FieldCipher,
    deal_id: &str,
) -> Result<bool> {
    Ok(store::contracts::signed_of_deal(tx, deal_id)?
        .iter()
        .any(|c| c.kind == TemplateKind::ServiceAgreement && verify(fields, c).ok))
}

fn fee_terms(d: &Deal) -> (Option<u32>, Option<i64>) {
    match d.product.service_fee {
        Some(ServiceFee::Rate { bp }) => (Some(bp), None),
        Some(ServiceFee::Fixed { fen }) => (None, Some(fen)),
        None => (None, None),
    }
}

/// Refuses a contract step (`step`: `create` or `link`) when the deal's comprehensive cost is
/// above the firm's cap (`loans.cost_cap_bp`), unless a manager overrides with a reason —
/// then one `deal.override` audit row (`rule: cost_cap`) is written in the step's
/// transaction. A cost that cannot be computed refuses too, naming the missing terms.
fn cost_gate(
    w: &crate::service::context::W<'_>,
    limits: &crate::config::LoansConfig,
    d: &Deal,
    override_cap: bool,
    reason: Option<&str>,
    step: &str,
    contract_id: Option<&str>,
) -> Result<()> {
    use crate::service::deals::{CostUnknown, contract_cost, pct};
    let product = store::products::versions_w(w.tx, &d.product.id)?
        .into_iter()
        .find(|p| p.version == d.product.version)
        .or(store::products::get_w(w.tx, &d.product.id)?)
        .map(|p| p.terms);
    let today = w
        .now()
        .with_timezone(&super::customers::shanghai())
        .date_naive();
    let cost = contract_cost(d, product.as_ref(), today).map_err(|e| match e {
        CostUnknown::NoAmount => Error::Refused {
            code: "deal_terms_required",
            message: "业务单还没有贷款金额，无法计算综合年化成本，不能生成或发送合同".into(),
            details: json!({"field": "amount_fen"}),
        },
        CostUnknown::Field(field, why) => {
            Error::validation(field, format!("无法计算综合年化成本：{why}"))
        }
    })?;
    if cost.bp <= limits.cost_cap_bp {
        return Ok(());
    }
    let facts = json!({"cost_bp": cost.bp, "cap_bp": limits.cost_cap_bp, "cost": pct(cost.bp),
        "cap": pct(limits.cost_cap_bp), "basis": cost.basis, "basis_label": cost.basis.label(),
        "field": "override"});
    if !override_cap {
        return Err(Error::Refused {
            code: "deal_cost_over_cap",
            message: format!(
                "综合年化成本 {}（按{}计算），超过本机构上限 {}：不得按此条件生成或发送合同；如确需签发，须由经理特批（勾选特批并填写原因）",
                pct(cost.bp),
                cost.basis.label(),
                pct(limits.cost_cap_bp)
            ),
            details: facts,
        });
    }
    if !crate::service::deals::UseCases::may_override(w.caller()) {
        return Err(Error::Refused {
            code: "deal_override_forbidden",
            message: "只有经理（有分配客户权限的角色）可以特批".into(),
            details: facts,
        });
    }
    let reason = reason.map(str::trim).unwrap_or_default();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(Error::validation("reason", "特批须填写原因（200字以内）"));
    }
    w.audit(
        "deal.override",
        Some(&d.id),
        json!({"rule": "cost_cap", "reason": reason, "step": step, "contract_id": contract_id,
               "cost_bp": cost.bp, "cap_bp": limits.cost_cap_bp, "basis": cost.basis}),
    )?;
    Ok(())
}

/// Whether `caller` reads a contract's full copy: it holds the borrower's ID number *and*
/// phone in full, so only a reader who may see both (else the copy with both masked; a full
/// ID beside a masked phone would still hand over the phone a reader may not reveal).
pub(crate) fn reads_full_copy(caller: &Caller) -> bool {
    caller.has(FieldPrivilege::IdNumberViewFull) && caller.has(FieldPrivilege::PhoneViewFull)
}

impl UseCases<'_> {
    fn view_of(&self, caller: &Caller, c: &Contract) -> Result<ContractView> {
        // After erasure: a retained signed contract for administrators only; nothing else.
        let open = match c.erasure {
            None => true,
            Some(e) => e.retained && may_read_retained(caller),
        };
        let full = match c.erasure {
            None => reads_full_copy(caller),
            Some(_) => open,
        };
        let content = if full {
            decrypt_content(&self.fields, c).ok_or_else(|| {
                Error::Internal(format!("contract {}: content does not decrypt", c.id))
            })?
        } else {
            c.content_masked.clone()
        };
        let signed = c.signing.as_ref().map(|s| SignedView {
            at: s.at,
            ip: if open { s.ip.clone() } else { String::new() },
            user_agent: if open {
                s.user_agent.clone()
            } else {
                String::new()
            },
            typed_name: s.typed_name.clone().filter(|_| open),
            consents: s.consents.clone(),
            link_id: s.link_id.clone(),
            signature_sha256: s.signature_sha256.clone(),
            signature_png: signature_png(&self.fields, c)
                .filter(|_| open)
                .map(|png| {
                    format!(
                        "data:image/png;base64,{}",
                        base64::engine::general_purpose::STANDARD.encode(png)
                    )
                })
                .unwrap_or_default(),
        });
        Ok(ContractView {
            id: c.id.clone(),
            deal_id: c.deal_id.clone(),
            template_id: c.template_id.clone(),
            template_version: c.template_version,
            title: c.title.clone(),
            kind: c.kind,
            state: c.state,
            content_sha256: Some(c.content_sha256.clone()).filter(|_| full),
            content,
            masked: !full,
            consents: c.consents.clone(),
            link: c
                .link
                .as_ref()
                .filter(|_| c.state == ContractState::Sent)
                .map(|l| LinkView {
                    id: l.id.clone(),
                    issued_at: l.issued_at,
                    expires_at: l.expires_at,
                }),
            signed,
            void_reason: c.void_reason.clone(),
            created_by: c.created_by.clone(),
            created_at: c.created_at,
            erasure_note: c.erasure.map(|e| {
                if e.retained {
                    "借款人已删除个人信息：已签署合同依《个人信息保护法》第四十七条在法定保存期限内保存，仅管理员可查看".into()
                } else {
                    "借款人已删除个人信息：合同内容已清除".into()
                }
            }),
        })
    }

    /// The facts a contract of `d` is rendered from, read in `tx`.
    pub(crate) fn facts(&self, tx: &store::WriteTransaction, d: &Deal) -> Result<Facts> {
        let c = Customers::unscoped(tx, Unscoped::Contract)
            .live(&d.customer_id)?
            .ok_or_else(|| Error::Refused {
                code: "contract_customer_gone",
                message: "该业务单的客户已删除，无法生成合同".into(),
                details: json!({"customer_id": d.customer_id}),
            })?;
        let open = |field: &str, enc: &str| {
            self.fields
                .decrypt(&c.id, field, enc)
                .map_err(|e| Error::Internal(format!("customer {}: {field}: {e}", c.id)))
        };
        let (id_full, id_masked) = match &c.id_number {
            Some(s) => (open("id_number", &s.enc)?, s.masked.clone()),
            None => (String::new(), String::new()),
        };
        let officer = store::users::get_w(tx, &d.officer_id)?
            .map(|u| u.display_name)
            .unwrap_or_default();
        let (fee_rate_bp, fee_fixed_fen) = fee_terms(d);
        let cfg = &self.config.contracts;
        Ok(Facts {
            firm_name: cfg.firm_name.clone(),
            firm_address: cfg.firm_address.clone(),
            firm_phone: cfg.firm_phone.clone(),
            customer_name: c.name.clone(),
            id_number_full: id_full,
            id_number_masked: id_masked,
            phone_full: open("phone", &c.phone.enc)?,
            phone_masked: c.phone.masked.clone(),
            customer_address: c.address.clone().unwrap_or_default(),
            deal_id: d.id.clone(),
            amount_fen: d.amount_fen,
            term_months: d.term_months,
            officer_name: officer,
            product_name: d.product.name.clone(),
            lender: d.product.lender.clone(),
            fee_rate_bp,
            fee_fixed_fen,
            date: self
                .now()
                .with_timezone(&super::customers::shanghai())
                .date_naive(),
        })
    }

    /// Renders the template's current version for the deal and freezes it (`deal.edit`).
    pub fn create_contract(
        &self,
        caller: &Caller,
        deal_id: &str,
        req: NewContract,
        source: &str,
    ) -> Result<ContractView> {
        caller.require(Capability::DealEdit)?;
        let ctx = self.ctx(caller, source)?;
        let c = ctx.write(|w| {
            let d = Deals::scoped(w.tx, w.scope())
                .get(deal_id)?
                .ok_or(Error::NotFound)?;
            let t = store::contracts::template(w.tx, &req.template_id)?
                .filter(|t| t.active)
                .ok_or_else(|| Error::validation("template_id", "没有这个启用中的合同模板"))?;
            let now = w.now();
            let id = new_id(now);
            cost_gate(
                w,
                &self.config.loans,
                &d,
                req.override_cap,
                req.reason.as_deref(),
                "create",
                Some(&id),
            )?;
            let facts = self.facts(w.tx, &d)?;
            let bad = |e: contract::RenderError| Error::validation("template_id", e.message);
            let full = contract::render(&t.body, &contract::context(&facts, true)).map_err(bad)?;
            let masked =
                contract::render(&t.body, &contract::context(&facts, false)).map_err(bad)?;
            let c = Contract {
                content_enc: self
                    .fields
                    .encrypt(&id, "content", &full)
                    .map_err(|e| Error::Internal(e.to_string()))?,
                id,
                deal_id: d.id.clone(),
                customer_id: d.customer_id.clone(),
                template_id: t.id.clone(),
                template_version: t.version,
                title: t.name.clone(),
                kind: t.kind,
                content_sha256: crate::crypto::sha256_hex(full.as_bytes()),
                content_masked: masked,
                consents: contract::consents(),
                state: ContractState::Draft,
                link: None,
                signing: None,
                void_reason: None,
                created_by: caller.user.id.clone(),
                created_at: now,
                updated_at: now,
                erasure: None,
            };
            store::contracts::put(w.tx, None, &c)?;
            // Not the text's SHA-256: an audit reader need not hold the full copy, and the
            // masked copy plus a guess at the hidden digits would be checked against it.
            w.audit(
                "contract.created",
                Some(&c.id),
                json!({"deal_id": d.id, "template_id": t.id, "template_version": t.version,
                       "content_hmac": self.fields.content_seal(&full)}),
            )?;
            Ok(c)
        })?;
        self.view_of(caller, &c)
    }

    /// A deal's contracts, newest first (`deal.read`; the deal in scope).
    pub fn list_contracts(&self, caller: &Caller, deal_id: &str) -> Result<ContractList> {
        caller.require(Capability::DealRead)?;
        let scope = self.scope_of(caller)?;
        let items = self.store.read(|tx| {
            store::contracts::Reader::scoped(tx, &scope)
                .of_deal(deal_id)?
                .ok_or(Error::NotFound)
        })?;
        let items = items
            .iter()
            .map(|c| self.view_of(caller, c))
            .collect::<Result<_>>()?;
        Ok(ContractList { items })
    }

    fn read_contract(&self, caller: &Caller, id: &str) -> Result<Contract> {
        caller.require(Capability::DealRead)?;
        let scope = self.scope_of(caller)?;
        self.store.read(|tx| {
            store::contracts::Reader::scoped(tx, &scope)
                .get(id)?
                .ok_or(Error::NotFound)
        })
    }

    pub fn get_contract(&self, caller: &Caller, id: &str) -> Result<ContractView> {
        let c = self.read_contract(caller, id)?;
        self.view_of(caller, &c)
    }

    /// Recomputes the contract's hash from what is stored.
    pub fn verify_contract(&self, caller: &Caller, id: &str) -> Result<Verification> {
        let c = self.read_contract(caller, id)?;
        let mut v = verify(&self.fields, &c);
        if !reads_full_copy(caller) {
            v.content_sha256 = None;
            v.computed_sha256 = None;
        }
        Ok(v)
    }

    /// Issues a one-time signing link (`deal.edit`); a link issued before is void from now.
    /// `POST /deals/{id}/contract`: freezes the template's current version for the deal, then
    /// issues its signing link, each step refused and audited as on its own. Two use cases:
    /// when the link is refused (say, the cost cap), the frozen draft stays on the deal, where
    /// the officer can send it later.
    pub fn contract_and_link(
        &self,
        caller: &Caller,
        deal_id: &str,
        req: ContractAndLink,
        source: &str,
    ) -> Result<IssuedLink> {
        caller.require(Capability::DealEdit)?;
        let wanted = req.template.trim();
        let templates = self
            .store
            .read(|tx| Ok::<_, Error>(store::contracts::templates(tx)?))?;
        let kind_of = |t: &crate::domain::contract::ContractTemplate| {
            serde_json::to_value(t.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        let template = templates
            .iter()
            .find(|t| t.id == wanted)
            .or_else(|| templates.iter().find(|t| t.active && t.name == wanted))
            .or_else(|| {
                templates
                    .iter()
                    .find(|t| t.active && kind_of(t).as_deref() == Some(wanted))
            })
            .ok_or_else(|| {
                Error::validation("template", "没有这个合同模板（填模板编号、名称或类型）")
            })?;
        let contract = self.create_contract(
            caller,
            deal_id,
            NewContract {
                template_id: template.id.clone(),
                override_cap: req.override_cap,
                reason: req.reason.clone(),
            },
            source,
        )?;
        self.issue_link(
            caller,
            &contract.id,
            LinkRequest {
                override_cap: req.override_cap,
                reason: req.reason,
            },
            source,
        )
    }

    pub fn issue_link(
        &self,
        caller: &Caller,
        id: &str,
        req: LinkRequest,
        source: &str,
    ) -> Result<IssuedLink> {
        caller.require(Capability::DealEdit)?;
        let token = crate::crypto::random_token()
            .map_err(|e| Error::Internal(format!("random token: {e}")))?;
        let hours = i64::from(self.config.contracts.link_hours);
        let ctx = self.ctx(caller, source)?;
        let c = ctx.write(|w| {
            let before = store::contracts::Reader::scoped(w.tx, w.scope())
                .get(id)?
                .ok_or(Error::NotFound)?;
            if !matches!(before.state, ContractState::Draft | ContractState::Sent) {
                return Err(not_open(&before));
            }
            // The deal as it stands now (its terms may have moved since the contract was
            // frozen); the contract's scope covers its deal.
            let d = Deals::scoped(w.tx, w.scope())
                .get(&before.deal_id)?
                .ok_or_else(|| Error::Internal(format!("contract {id}: deal missing")))?;
            cost_gate(
                w,
                &self.config.loans,
                &d,
                req.override_cap,
                req.reason.as_deref(),
                "link",
                Some(&before.id),
            )?;
            let now = w.now();
            let mut c = before.clone();
            c.link = Some(SigningLink {
                id: new_id(now),
                token_sha256: crate::crypto::sha256_hex(token.as_bytes()),
                issued_at: now,
                issued_by: caller.user.id.clone(),
                expires_at: now + chrono::Duration::hours(hours),
            });
            c.state = ContractState::Sent;
            c.updated_at = now;
            store::contracts::put(w.tx, Some(&before), &c)?;
            w.audit(
                "contract.link_issued",
                Some(&c.id),
                json!({"deal_id": c.deal_id, "link_id": c.link.as_ref().map(|l| &l.id),
                       "replaced": before.link.as_ref().map(|l| &l.id),
                       "expires_at": c.link.as_ref().map(|l| l.expires_at)}),
            )?;
            Ok(c)
        })?;
        let link = c
            .link
            .clone()
            .ok_or_else(|| Error::Internal("link just issued is missing".into()))?;
        let base = self.config.server.public_url.trim_end_matches('/');
        Ok(IssuedLink {
            signing_url: format!("{base}/sign/{token}"),
            link_id: link.id,
            expires_at: link.expires_at,
            contract: self.view_of(caller, &c)?,
        })
    }

    /// Voids a contract not yet signed (`deal.edit`); its link stops working.
    pub fn void_contract(
        &self,
        caller: &Caller,
        id: &str,
        req: VoidRequest,
        source: &str,
    ) -> Result<ContractView> {
        caller.require(Capability::DealEdit)?;
        let reason = req.reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 200 {
            return Err(Error::validation("reason", "请填写作废原因（200字以内）"));
        }
        let ctx = self.ctx(caller, source)?;
        let c = ctx.write(|w| {
            let before = store::contracts::Reader::scoped(w.tx, w.scope())
                .get(id)?
                .ok_or(Error::NotFound)?;
            if !matches!(before.state, ContractState::Draft | ContractState::Sent) {
                return Err(not_open(&before));
            }
            let mut c = before.clone();
            c.state = ContractState::Void;
            c.void_reason = Some(reason.clone());
            c.updated_at = w.now();
            store::contracts::put(w.tx, Some(&before), &c)?;
            w.audit(
                "contract.voided",
                Some(&c.id),
                json!({"deal_id": c.deal_id, "reason": reason}),
            )?;
            Ok(c)
        })?;
        self.view_of(caller, &c)
    }
}

fn not_open(c: &Contract) -> Error {
    match c.state {
        ContractState::Signed => Error::Refused {
            code: "contract_signed",
            message: "合同已签署，不能再修改；如需变更请重新生成新合同并签署".into(),
            details: json!({"state": c.state}),
        },
        _ => Error::Refused {
            code: "contract_void",
            message: "合同已作废".into(),
            details: json!({"state": c.state}),
        },
    }
}
