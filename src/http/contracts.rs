//! Contract templates (settings), a deal's contracts, signing links, verification and the PDF.
//! A contract is seen with its deal (outside the deal's scope: 404).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, ApiJson, AppState};
use crate::domain::contract::ContractTemplate;
use crate::service::access::auth::Caller;
use crate::service::contracts::{
    ContractAndLink, ContractList, ContractView, IssuedLink, LinkRequest, NewContract,
    PlaceholderView, PreviewRequest, PreviewResult, TemplateInput, TemplateList, Verification,
    VoidRequest,
};

/// Contract templates, current versions (`settings.manage` or `deal.edit`).
#[utoipa::path(get, path = "/contract-templates", operation_id = "list_contract_templates",
    tag = "contracts", responses(
    (status = 200, description = "Templates", body = TemplateList),
    (status = 403, description = "Missing settings.manage / deal.edit", body = ErrorBody)))]
pub async fn list_templates(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<TemplateList>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.contracts().list_templates(&caller))
            .await?,
    ))
}

/// Create a template (`settings.manage`); a misspelt placeholder is refused naming it.
#[utoipa::path(post, path = "/contract-templates", operation_id = "create_contract_template",
    tag = "contracts", request_body = TemplateInput, responses(
    (status = 201, description = "Created, version 1", body = ContractTemplate),
    (status = 400, description = "Invalid field (body: the line and placeholder)", body = ErrorBody),
    (status = 403, description = "Missing settings.manage", body = ErrorBody)))]
pub async fn create_template(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<TemplateInput>,
) -> Result<(StatusCode, Json<ContractTemplate>), ApiError> {
    let t = app
        .blocking(move |app| app.contracts().create_template(&caller, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// The placeholders a template may use.
#[utoipa::path(get, path = "/contract-templates/placeholders",
    operation_id = "contract_placeholders", tag = "contracts", responses(
    (status = 200, description = "Placeholders", body = [PlaceholderView])))]
pub async fn placeholders(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<PlaceholderView>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.contracts().placeholders(&caller))
            .await?,
    ))
}

/// A template's current version.
#[utoipa::path(get, path = "/contract-templates/{id}", operation_id = "get_contract_template",
    tag = "contracts", responses(
    (status = 200, description = "The template", body = ContractTemplate),
    (status = 404, description = "Absent", body = ErrorBody)))]
pub async fn get_template(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ContractTemplate>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.contracts().get_template(&caller, &id))
            .await?,
    ))
}

/// Save a template: a new version (`settings.manage`); contracts keep the version they used.
#[utoipa::path(put, path = "/contract-templates/{id}", operation_id = "update_contract_template",
    tag = "contracts", request_body = TemplateInput, responses(
    (status = 200, description = "The new version", body = ContractTemplate),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing settings.manage", body = ErrorBody),
    (status = 404, description = "Absent", body = ErrorBody)))]
pub async fn update_template(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TemplateInput>,
) -> Result<Json<ContractTemplate>, ApiError> {
    Ok(Json(
        app.blocking(move |app| {
            app.contracts()
                .update_template(&caller, &id, input, &source)
        })
        .await?,
    ))
}

/// Every version of a template, newest first.
#[utoipa::path(get, path = "/contract-templates/{id}/versions",
    operation_id = "contract_template_versions", tag = "contracts", responses(
    (status = 200, description = "Versions", body = TemplateList),
    (status = 404, description = "Absent", body = ErrorBody)))]
pub async fn template_versions(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TemplateList>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.contracts().template_versions(&caller, &id))
            .await?,
    ))
}

/// Render a template (saved, or the editor's `body`) against a deal in my scope
/// (`settings.manage`); a render error comes back with its line and placeholder.
#[utoipa::path(post, path = "/contract-templates/{id}/preview",
    operation_id = "preview_contract_template", tag = "contracts", request_body = PreviewRequest,
    responses(
    (status = 200, description = "The HTML, or the error", body = PreviewResult),
    (status = 400, description = "No such deal in my scope", body = ErrorBody),
    (status = 404, description = "Absent template", body = ErrorBody)))]
pub async fn preview_template(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PreviewRequest>,
) -> Result<Json<PreviewResult>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.contracts().preview_template(&caller, &id, req, &source))
            .await?,
    ))
}

/// A deal's contracts, newest first.
#[utoipa::path(get, path = "/deals/{id}/contracts", operation_id = "list_deal_contracts",
    tag = "contracts", responses(
    (status = 200, description = "Contracts", body = ContractList),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ContractList>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.contracts().list_contracts(&caller, &id))
            .await?,
    ))
}

/// Render the template's current version for the deal and freeze it (`deal.edit`); refused
/// above the firm's cost cap unless a manager overrides (`override`, `reason`; audited).
#[utoipa::path(post, path = "/deals/{id}/contracts", operation_id = "create_contract",
    tag = "contracts", request_body = NewContract, responses(
    (status = 201, description = "The frozen contract (draft)", body = ContractView),
    (status = 400, description = "No such template, or it does not render; an override without a reason; the cost cannot be computed (the field named)", body = ErrorBody),
    (status = 403, description = "Missing deal.edit; an override by someone who may not (deal_override_forbidden)", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "deal_cost_over_cap (the deal's comprehensive cost is above the firm's cap; a manager may override with a reason); deal_terms_required", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<NewContract>,
) -> Result<(StatusCode, Json<ContractView>), ApiError> {
    let c = app
        .blocking(move |app| app.contracts().create_contract(&caller, &id, req, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Freeze a contract from `template` (its id, name or kind) and issue its one-time signing
/// link in one call (`deal.edit`): the answer's `signing_url` contains `/sign/<token>`. Each step
/// is refused and audited as on its own (`POST /deals/{id}/contracts`, `POST
/// /contracts/{id}/link`); a refused link leaves the frozen draft on the deal.
#[utoipa::path(post, path = "/deals/{id}/contract", operation_id = "create_contract_and_link",
    tag = "contracts", request_body = ContractAndLink, responses(
    (status = 201, description = "The frozen contract and its signing URL", body = IssuedLink),
    (status = 400, description = "No such template, or it does not render; an override without a reason; the cost cannot be computed (the field named)", body = ErrorBody),
    (status = 403, description = "Missing deal.edit; an override by someone who may not (deal_override_forbidden)", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "deal_cost_over_cap; deal_terms_required", body = ErrorBody)))]
pub async fn create_and_link(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ContractAndLink>,
) -> Result<(StatusCode, Json<IssuedLink>), ApiError> {
    let l = app
        .blocking(move |app| {
            app.contracts()
                .contract_and_link(&caller, &id, req, &source)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(l)))
}

/// One contract (full text with `id_number.view_full`, else the masked copy).
#[utoipa::path(get, path = "/contracts/{id}", operation_id = "get_contract", tag = "contracts",
    responses(
    (status = 200, description = "The contract", body = ContractView),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ContractView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.contracts().get_contract(&caller, &id))
            .await?,
    ))
}

/// Issue a one-time signing link (`deal.edit`); an earlier link stops working. The URL is
/// shown this once. Refused (`deal_cost_over_cap`) when the deal's comprehensive cost is
/// above the firm's cap, unless a manager sends `override` with a `reason` (audited).
#[utoipa::path(post, path = "/contracts/{id}/link", operation_id = "issue_signing_link",
    tag = "contracts", request_body(content = Option<LinkRequest>,
        description = "Optional: a manager's override of the cost cap"), responses(
    (status = 200, description = "The signing URL and its expiry", body = IssuedLink),
    (status = 400, description = "Invalid field (an override without a reason; the cost cannot be computed: the field named)", body = ErrorBody),
    (status = 403, description = "Missing deal.edit; an override by someone who may not (deal_override_forbidden)", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "Signed or void; deal_cost_over_cap; deal_terms_required", body = ErrorBody)))]
pub async fn link(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<ApiJson<LinkRequest>>,
) -> Result<Json<IssuedLink>, ApiError> {
    let req = body.map(|ApiJson(r)| r).unwrap_or_default();
    Ok(Json(
        app.blocking(move |app| app.contracts().issue_link(&caller, &id, req, &source))
            .await?,
    ))
}

/// Void a contract not yet signed (`deal.edit`).
#[utoipa::path(post, path = "/contracts/{id}/void", operation_id = "void_contract",
    tag = "contracts", request_body = VoidRequest, responses(
    (status = 200, description = "Voided", body = ContractView),
    (status = 400, description = "No reason", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "Signed (cannot change) or already void", body = ErrorBody)))]
pub async fn void(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<VoidRequest>,
) -> Result<Json<ContractView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.contracts().void_contract(&caller, &id, req, &source))
            .await?,
    ))
}

/// Recompute the contract's hash (and the signature's) from what is stored.
#[utoipa::path(get, path = "/contracts/{id}/verify", operation_id = "verify_contract",
    tag = "contracts", responses(
    (status = 200, description = "The verification", body = Verification),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn verify(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Verification>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.contracts().verify_contract(&caller, &id))
            .await?,
    ))
}

/// The contract as a PDF: text, signature, certificate page.
#[utoipa::path(get, path = "/contracts/{id}/pdf", operation_id = "contract_pdf",
    tag = "contracts", responses(
    (status = 200, description = "application/pdf", content_type = "application/pdf"),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn pdf(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (name, bytes) = app
        .blocking(move |app| app.contracts().contract_pdf(&caller, &id))
        .await?;
    let mut resp = Body::from(bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    // The name is `contract-<ULID>.pdf`: ASCII letters, digits, '-' and '.'.
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
