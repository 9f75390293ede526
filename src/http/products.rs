//! Credit products (信贷产品) and product matching for a customer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::domain::capability::Capability;
use crate::domain::product::{self, Product, ProductInput};
use crate::service::Error;
use crate::service::access::auth::Caller;
use crate::service::products::matching::MatchReport;
use crate::service::products::reverse::{CandidatePage, CandidateQuery};
use crate::service::products::sheet::ProductImportReport;
use crate::service::products::{ProductFilter, ProductList};

/// Products, active first, by category and name (every user who may read customers).
#[utoipa::path(get, path = "/products", operation_id = "list_products", tag = "products",
    params(ProductFilter), responses(
    (status = 200, description = "Products", body = ProductList)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(f): ApiQuery<ProductFilter>,
) -> Result<Json<ProductList>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.products().list_products(&caller, &f))
            .await?,
    ))
}

/// Create a product (`product.manage`).
#[utoipa::path(post, path = "/products", operation_id = "create_product", tag = "products",
    request_body = ProductInput, responses(
    (status = 201, description = "Created (version 1)", body = Product),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing product.manage", body = ErrorBody),
    (status = 409, description = "The lender already has a product of that name", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let input = wire(body)?;
    let p = app
        .blocking(move |app| app.products().create_product(&caller, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// One product.
#[utoipa::path(get, path = "/products/{id}", operation_id = "get_product", tag = "products", responses(
    (status = 200, description = "The product's current version", body = Product),
    (status = 404, description = "No such product", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.products().get_product(&caller, &id))
            .await?,
    ))
}

/// Replace a product's terms: a new version (`product.manage`). Deactivate with `active: false`.
#[utoipa::path(put, path = "/products/{id}", operation_id = "update_product", tag = "products",
    request_body = ProductInput, responses(
    (status = 200, description = "The new version (the same one when nothing changed)", body = Product),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing product.manage", body = ErrorBody),
    (status = 404, description = "No such product", body = ErrorBody),
    (status = 409, description = "The lender already has a product of that name", body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<Product>, ApiError> {
    let input = wire(body)?;
    Ok(Json(
        app.blocking(move |app| app.products().update_product(&caller, &id, input, &source))
            .await?,
    ))
}

/// Change some of a product's terms: a JSON merge patch (RFC 7396; `null` clears a field)
/// over the current version, saved as a new version (`product.manage`).
#[utoipa::path(patch, path = "/products/{id}", operation_id = "patch_product", tag = "products",
    request_body = serde_json::Value, responses(
    (status = 200, description = "The new version (the same one when nothing changed)", body = Product),
    (status = 400, description = "Invalid or unknown field", body = ErrorBody),
    (status = 403, description = "Missing product.manage", body = ErrorBody),
    (status = 404, description = "No such product", body = ErrorBody),
    (status = 409, description = "The lender already has a product of that name", body = ErrorBody)))]
pub async fn patch(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.products().patch_product(&caller, &id, body, &source))
            .await?,
    ))
}

/// A product body as docs/api.md writes it (older names still read); an unknown field is a
/// 400 naming it.
fn wire(body: serde_json::Value) -> Result<ProductInput, Error> {
    product::from_wire(body).map_err(|(field, reason)| Error::validation(field, reason))
}

/// Every version of a product, oldest first.
#[utoipa::path(get, path = "/products/{id}/versions", operation_id = "product_versions", tag = "products", responses(
    (status = 200, description = "Versions", body = [Product]),
    (status = 404, description = "No such product", body = ErrorBody)))]
pub async fn versions(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Product>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.products().product_versions(&caller, &id))
            .await?,
    ))
}

/// The customer against every active product: eligible ones ranked with an estimate, every
/// failing requirement named, information to collect, and near misses with what would cure them.
/// Each eligible product counts once per customer and day as "matched" for the caller (the
/// products report, docs/reports.md).
#[utoipa::path(get, path = "/customers/{id}/matches", operation_id = "customer_matches", tag = "products", responses(
    (status = 200, description = "The match report", body = MatchReport),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn matches(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MatchReport>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.products().matches(&caller, &id))
            .await?,
    ))
}

/// The reverse match: which customers in my scope qualify for this product (counts and one
/// page, masked like every customer list). Reads the compact match rows, not the records.
#[utoipa::path(get, path = "/products/{id}/candidates", operation_id = "product_candidates", tag = "products",
    params(CandidateQuery), responses(
    (status = 200, description = "Counts and a page of qualifying customers", body = CandidatePage),
    (status = 400, description = "Invalid limit", body = ErrorBody),
    (status = 404, description = "No such product", body = ErrorBody)))]
pub async fn candidates(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<CandidateQuery>,
) -> Result<Json<CandidatePage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.products().candidates(&caller, &id, &q))
            .await?,
    ))
}

/// Import a product sheet (CSV or XLSX, columns named in Chinese; the template's headers are at
/// `GET /products/sheet-template`): all or nothing, every bad cell reported with its row, column,
/// value and reason. A row naming an existing product (same lender and name) replaces its
/// terms as a new version. Multipart: `file`, and `dry_run=true` to check without writing.
#[utoipa::path(post, path = "/products/import", operation_id = "import_products", tag = "products",
    request_body(content_type = "multipart/form-data", description = "`file` (CSV or XLSX) and optional `dry_run`"),
    responses(
    (status = 200, description = "What was (or would be) created and updated, or every error (then nothing was written)", body = ProductImportReport),
    (status = 400, description = "Unreadable or empty file", body = ErrorBody),
    (status = 403, description = "Missing product.manage", body = ErrorBody)))]
pub async fn import(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    mut form: axum::extract::Multipart,
) -> Result<Json<ProductImportReport>, ApiError> {
    caller.require(Capability::ProductManage)?;
    let spool = app
        .imports()
        .spool_path(&format!("products-{}", crate::service::new_id(app.now())))?;
    let mut dry_run = false;
    let mut got_file = false;
    let upload = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(e.status(), "bad_upload", e.body_text())
    };
    while let Some(field) = form.next_field().await.map_err(upload)? {
        match field.name() {
            Some("file") => {
                let bytes = field.bytes().await.map_err(upload)?;
                tokio::fs::write(&spool, &bytes)
                    .await
                    .map_err(|e| Error::Internal(format!("spooling: {e}")))?;
                got_file = true;
            }
            Some("dry_run") => {
                dry_run = matches!(
                    field.text().await.map_err(upload)?.trim(),
                    "true" | "1" | "on"
                );
            }
            _ => {}
        }
    }
    if !got_file {
        return Err(Error::validation("file", "请选择产品表文件").into());
    }
    let report = app
        .blocking(move |app| {
            let r = app
                .products()
                .import_products(&caller, &spool, dry_run, &source);
            if let Err(e) = std::fs::remove_file(&spool) {
                tracing::warn!(path = %spool.display(), "cannot remove a product sheet upload: {e}");
            }
            r
        })
        .await?;
    Ok(Json(report))
}

/// The product sheet's headers as a CSV file (UTF-8 with a BOM, so Excel shows the Chinese).
#[utoipa::path(get, path = "/products/sheet-template", operation_id = "product_sheet_template", tag = "products", responses(
    (status = 200, description = "CSV with the header row", content_type = "text/csv")))]
pub async fn sheet_template(caller: Caller) -> Result<impl axum::response::IntoResponse, ApiError> {
    caller.require(Capability::ProductManage)?;
    let mut body = String::from("\u{feff}");
    body.push_str(&crate::service::products::sheet::template_headers().join(","));
    body.push_str("\r\n");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"products-template.csv\"",
            ),
        ],
        body,
    ))
}
