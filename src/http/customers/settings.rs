//! A firm's customer settings: custom fields and tag groups; the caller's saved list views;
//! the staff directory.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::domain::custom_field::CustomField;
use crate::http::auth::Source;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, AppState};
use crate::service::access::auth::Caller;
use crate::service::customers::settings::{
    DirectoryEntry, SavedView, SavedViewInput, TagGroup, TagGroupInput,
};

/// Custom field definitions, in display order (any user who reads customers: forms need them).
#[utoipa::path(get, path = "/custom-fields", operation_id = "list_custom_fields", tag = "customer settings", responses(
    (status = 200, description = "Definitions", body = Vec<CustomField>),
    (status = 403, description = "Missing customer.read", body = ErrorBody)))]
pub async fn list_fields(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<CustomField>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().list_custom_fields(&caller))
            .await?,
    ))
}

/// Define a custom field (admin: settings.manage).
#[utoipa::path(post, path = "/custom-fields", operation_id = "create_custom_field", tag = "customer settings", request_body = CustomField, responses(
    (status = 201, description = "Created", body = CustomField),
    (status = 400, description = "Invalid definition", body = ErrorBody),
    (status = 403, description = "Missing settings.manage", body = ErrorBody),
    (status = 409, description = "The key exists", body = ErrorBody)))]
pub async fn create_field(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(def): ApiJson<CustomField>,
) -> Result<(StatusCode, Json<CustomField>), ApiError> {
    let d = app
        .blocking(move |app| {
            app.customers()
                .save_custom_field(&caller, def, true, &source)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// Replace a custom field's definition (admin; the key in the path wins).
#[utoipa::path(put, path = "/custom-fields/{key}", operation_id = "update_custom_field", tag = "customer settings", request_body = CustomField, responses(
    (status = 200, description = "Saved", body = CustomField),
    (status = 400, description = "Invalid definition", body = ErrorBody),
    (status = 403, description = "Missing settings.manage", body = ErrorBody),
    (status = 404, description = "No such field", body = ErrorBody)))]
pub async fn update_field(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(key): Path<String>,
    ApiJson(mut def): ApiJson<CustomField>,
) -> Result<Json<CustomField>, ApiError> {
    def.key = key;
    Ok(Json(
        app.blocking(move |app| {
            app.customers()
                .save_custom_field(&caller, def, false, &source)
        })
        .await?,
    ))
}

/// Remove a custom field definition (admin). Deactivating keeps it on records and exports.
#[utoipa::path(delete, path = "/custom-fields/{key}", operation_id = "delete_custom_field", tag = "customer settings", responses(
    (status = 204, description = "Removed"),
    (status = 403, description = "Missing settings.manage", body = ErrorBody),
    (status = 404, description = "No such field", body = ErrorBody)))]
pub async fn delete_field(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| app.customers().delete_custom_field(&caller, &key, &source))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tag groups (资质 / 意向 / 来源 …), in display order.
#[utoipa::path(get, path = "/tag-groups", operation_id = "list_tag_groups", tag = "customer settings", responses(
    (status = 200, description = "Groups", body = Vec<TagGroup>),
    (status = 403, description = "Missing customer.read", body = ErrorBody)))]
pub async fn list_groups(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TagGroup>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().list_tag_groups(&caller))
            .await?,
    ))
}

/// Create a tag group (admin).
#[utoipa::path(post, path = "/tag-groups", operation_id = "create_tag_group", tag = "customer settings", request_body = TagGroupInput, responses(
    (status = 201, description = "Created", body = TagGroup),
    (status = 400, description = "Invalid group", body = ErrorBody),
    (status = 403, description = "Missing settings.manage", body = ErrorBody)))]
pub async fn create_group(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<TagGroupInput>,
) -> Result<(StatusCode, Json<TagGroup>), ApiError> {
    let g = app
        .blocking(move |app| {
            app.customers()
                .save_tag_group(&caller, None, input, &source)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(g)))
}

/// Replace a tag group (admin).
#[utoipa::path(put, path = "/tag-groups/{id}", operation_id = "update_tag_group", tag = "customer settings", request_body = TagGroupInput, responses(
    (status = 200, description = "Saved", body = TagGroup),
    (status = 400, description = "Invalid group", body = ErrorBody),
    (status = 403, description = "Missing settings.manage", body = ErrorBody),
    (status = 404, description = "No such group", body = ErrorBody)))]
pub async fn update_group(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TagGroupInput>,
) -> Result<Json<TagGroup>, ApiError> {
    Ok(Json(
        app.blocking(move |app| {
            app.customers()
                .save_tag_group(&caller, Some(&id), input, &source)
        })
        .await?,
    ))
}

/// Remove a tag group (admin; tags already on customers stay).
#[utoipa::path(delete, path = "/tag-groups/{id}", operation_id = "delete_tag_group", tag = "customer settings", responses(
    (status = 204, description = "Removed"),
    (status = 403, description = "Missing settings.manage", body = ErrorBody),
    (status = 404, description = "No such group", body = ErrorBody)))]
pub async fn delete_group(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| app.customers().delete_tag_group(&caller, &id, &source))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Customer-list views: 我负责的 / 下属负责的 / 全部, then the caller's own.
#[utoipa::path(get, path = "/customer-views", operation_id = "list_customer_views", tag = "customers", responses(
    (status = 200, description = "Views", body = Vec<SavedView>),
    (status = 403, description = "Missing customer.read", body = ErrorBody)))]
pub async fn list_views(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<SavedView>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().list_views(&caller))
            .await?,
    ))
}

/// Save the current filters as a named view (for the caller only).
#[utoipa::path(post, path = "/customer-views", operation_id = "create_customer_view", tag = "customers", request_body = SavedViewInput, responses(
    (status = 201, description = "Saved", body = SavedView),
    (status = 400, description = "Invalid name, or too many views", body = ErrorBody)))]
pub async fn create_view(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<SavedViewInput>,
) -> Result<(StatusCode, Json<SavedView>), ApiError> {
    let v = app
        .blocking(move |app| app.customers().save_view(&caller, input))
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Delete one of the caller's saved views.
#[utoipa::path(delete, path = "/customer-views/{id}", operation_id = "delete_customer_view", tag = "customers", responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such view of mine", body = ErrorBody)))]
pub async fn delete_view(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| app.customers().delete_view(&caller, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Colleagues' names for owner pickers and timelines (any signed-in user; no phones or roles).
#[utoipa::path(get, path = "/users/directory", operation_id = "user_directory", tag = "users", responses(
    (status = 200, description = "Every account's id, name, department and status", body = Vec<DirectoryEntry>),
    (status = 401, description = "Not signed in", body = ErrorBody)))]
pub async fn directory(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DirectoryEntry>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().user_directory(&caller))
            .await?,
    ))
}
