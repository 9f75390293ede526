//! Departments and roles: readable by every logged-in user, changed with `user.manage`.

pub(super) mod users;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use crate::domain::org::Department;
use crate::domain::roles::{Capability, FieldPrivilege, Role};
use crate::http::auth::Source;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, AppState};
use crate::service::access::auth::Caller;
use crate::service::org::users::Actor;
use crate::service::org::{DepartmentInput, DepartmentPatch, DepartmentRow, RoleInput, RolePatch};

#[derive(Serialize, utoipa::ToSchema)]
pub struct DepartmentList {
    /// Each with `may_manage`: whether the caller may create under, rename, move, delete it.
    pub items: Vec<DepartmentRow>,
    pub next_cursor: Option<String>,
    pub total: usize,
    /// Whether the caller may create a top-level department (`user.manage` with scope `all`).
    pub may_create_top_level: bool,
}

/// The department tree as a flat list (`parent_id` links), with what the caller may change.
#[utoipa::path(get, path = "/departments", tag = "organisation", responses(
    (status = 200, description = "Departments", body = DepartmentList),
    (status = 401, description = "Not logged in", body = ErrorBody)))]
pub async fn list_departments(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<DepartmentList>, ApiError> {
    let (items, may_create_top_level) = app
        .blocking(move |app| app.org().department_rows(&Actor::User(&caller)))
        .await?;
    Ok(Json(DepartmentList {
        total: items.len(),
        items,
        next_cursor: None,
        may_create_top_level,
    }))
}

/// Create a department (optionally under a parent).
#[utoipa::path(post, path = "/departments", tag = "organisation", request_body = DepartmentInput, responses(
    (status = 201, description = "Created", body = Department),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 409, description = "Same name under the same parent", body = ErrorBody)))]
pub async fn create_department(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<DepartmentInput>,
) -> Result<(StatusCode, Json<Department>), ApiError> {
    let d = app
        .blocking(move |app| {
            app.org()
                .create_department(&Actor::User(&caller), input, &source)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// Rename or move a department (not below itself).
#[utoipa::path(patch, path = "/departments/{id}", tag = "organisation", request_body = DepartmentPatch, responses(
    (status = 200, description = "Updated", body = Department),
    (status = 400, description = "Invalid field or a cycle", body = ErrorBody),
    (status = 404, description = "No such department", body = ErrorBody)))]
pub async fn update_department(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<DepartmentPatch>,
) -> Result<Json<Department>, ApiError> {
    Ok(Json(
        app.blocking(move |app| {
            app.org()
                .update_department(&Actor::User(&caller), &id, input, &source)
        })
        .await?,
    ))
}

/// Delete an empty department.
#[utoipa::path(delete, path = "/departments/{id}", tag = "organisation", responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such department", body = ErrorBody),
    (status = 409, description = "Has sub-departments or members", body = ErrorBody)))]
pub async fn delete_department(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| {
        app.org()
            .delete_department(&Actor::User(&caller), &id, &source)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleList {
    pub items: Vec<Role>,
    pub next_cursor: Option<String>,
    pub total: usize,
    /// Every capability a role can grant.
    pub capabilities: Vec<Capability>,
    /// Every field privilege a role can grant.
    pub field_privileges: Vec<FieldPrivilege>,
}

/// Roles, with the lists of grantable capabilities and field privileges.
#[utoipa::path(get, path = "/roles", tag = "organisation", responses(
    (status = 200, description = "Roles", body = RoleList),
    (status = 401, description = "Not logged in", body = ErrorBody)))]
pub async fn list_roles(
    State(app): State<AppState>,
    _caller: Caller,
) -> Result<Json<RoleList>, ApiError> {
    let items = app.blocking(|app| app.org().list_roles()).await?;
    Ok(Json(RoleList {
        total: items.len(),
        items,
        next_cursor: None,
        capabilities: Capability::ALL.to_vec(),
        field_privileges: FieldPrivilege::ALL.to_vec(),
    }))
}

/// Create a role of the firm's own.
#[utoipa::path(post, path = "/roles", tag = "organisation", request_body = RoleInput, responses(
    (status = 201, description = "Created", body = Role),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 409, description = "Key taken", body = ErrorBody)))]
pub async fn create_role(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(role): ApiJson<RoleInput>,
) -> Result<(StatusCode, Json<Role>), ApiError> {
    let r = app
        .blocking(move |app| {
            app.org()
                .create_role(&Actor::User(&caller), role.into(), &source)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Change a role's name, capabilities, scope or field privileges (built-ins too).
#[utoipa::path(patch, path = "/roles/{key}", tag = "organisation", request_body = RolePatch, responses(
    (status = 200, description = "Updated", body = Role),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 404, description = "No such role", body = ErrorBody),
    (status = 422, description = "Would take account management from the admin role", body = ErrorBody)))]
pub async fn update_role(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(key): Path<String>,
    ApiJson(patch): ApiJson<RolePatch>,
) -> Result<Json<Role>, ApiError> {
    Ok(Json(
        app.blocking(move |app| {
            app.org()
                .update_role(&Actor::User(&caller), &key, patch, &source)
        })
        .await?,
    ))
}

/// Delete a role of the firm's own that nobody holds.
#[utoipa::path(delete, path = "/roles/{key}", tag = "organisation", responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such role", body = ErrorBody),
    (status = 409, description = "Still held by users", body = ErrorBody),
    (status = 422, description = "Built-in role", body = ErrorBody)))]
pub async fn delete_role(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| app.org().delete_role(&Actor::User(&caller), &key, &source))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
