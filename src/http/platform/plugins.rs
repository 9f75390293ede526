//! Plugins: list, read, save (422 with file/line/message when the source does not compile),
//! versions, rollback and "try it" against a real customer. All need `plugin.manage`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::http::auth::Source;
use crate::http::error::{ErrorBody, ErrorDetail};
use crate::http::{ApiError, ApiJson, ApiQuery, AppState};
use crate::script::{PluginStatus, ScriptError};
use crate::service::access::auth::Caller;
use crate::service::platform::plugins::{
    PluginDetail, PluginRollback, PluginSave, PluginTry, PluginTryResult, PluginVersionView,
    SaveRefused,
};

/// The 422 body of a refused save: the usual error plus where it is. `plugin_compile`: it
/// does not compile; `plugin_tests_failed`: its inline tests or horizon check fail (every
/// failure in `failures`, the first also in `script_error`; `?force=true` saves anyway).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PluginErrorBody {
    pub error: ErrorDetail,
    pub script_error: ScriptError,
    pub failures: Vec<ScriptError>,
}

/// `?force=true`: save although the inline tests fail (audited).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SaveQuery {
    #[serde(default)]
    pub force: bool,
}

fn saved(result: Result<PluginDetail, SaveRefused>) -> Response {
    let (code, failures) = match result {
        Ok(detail) => return Json(detail).into_response(),
        Err(SaveRefused::Compile(e)) => ("plugin_compile", vec![e]),
        Err(SaveRefused::Checks(f)) => ("plugin_tests_failed", f),
    };
    let Some(first) = failures.first().cloned() else {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    };
    let message = if code == "plugin_compile" {
        first.to_string()
    } else {
        format!(
            "插件自带的测试未通过（{} 处），未保存：{first}。确认要保存请加 ?force=true",
            failures.len()
        )
    };
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(PluginErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
                field: Some("source".into()),
                details: None,
                request_id: None,
            },
            script_error: first,
            failures,
        }),
    )
        .into_response()
}

/// Every plugin with its status: running file, last good version or built-in default, errors.
#[utoipa::path(get, path = "/plugins", operation_id = "list_plugins", tag = "plugins", responses(
    (status = 200, description = "Plugins and their status", body = [PluginStatus]),
    (status = 403, description = "Missing plugin.manage", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<PluginStatus>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.platform().list_plugins(&caller))
            .await?,
    ))
}

/// One plugin: status, source on disk (or the default), saved versions.
#[utoipa::path(get, path = "/plugins/{name}", operation_id = "get_plugin", tag = "plugins", responses(
    (status = 200, description = "The plugin", body = PluginDetail),
    (status = 403, description = "Missing plugin.manage", body = ErrorBody),
    (status = 404, description = "No such plugin", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<PluginDetail>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.platform().get_plugin(&caller, &name))
            .await?,
    ))
}

/// Save a new source: versioned, audited, written atomically, picked up at once. The file's
/// `tests()` and horizon check must pass (`?force=true` saves anyway, audited).
#[utoipa::path(put, path = "/plugins/{name}", operation_id = "save_plugin", tag = "plugins", params(SaveQuery), request_body = PluginSave, responses(
    (status = 200, description = "Saved and running", body = PluginDetail),
    (status = 400, description = "Invalid name or source too large", body = ErrorBody),
    (status = 403, description = "Missing plugin.manage", body = ErrorBody),
    (status = 422, description = "Does not compile (plugin_compile) or its tests fail (plugin_tests_failed): file, line and message; the running version stays", body = PluginErrorBody)))]
pub async fn save(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<SaveQuery>,
    ApiJson(input): ApiJson<PluginSave>,
) -> Result<Response, ApiError> {
    let r = app
        .blocking(move |app| {
            app.platform()
                .save_plugin(&caller, &name, input, q.force, &source)
        })
        .await?;
    Ok(saved(r))
}

/// Delete a plugin file: the built-in default serves its hooks again; saved versions stay.
#[utoipa::path(delete, path = "/plugins/{name}", operation_id = "delete_plugin", tag = "plugins", responses(
    (status = 204, description = "Deleted"),
    (status = 403, description = "Missing plugin.manage", body = ErrorBody),
    (status = 404, description = "No such plugin file", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| app.platform().delete_plugin(&caller, &name, &source))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One saved version's source.
#[utoipa::path(get, path = "/plugins/{name}/versions/{vid}", operation_id = "get_plugin_version", tag = "plugins", responses(
    (status = 200, description = "The version", body = PluginVersionView),
    (status = 403, description = "Missing plugin.manage", body = ErrorBody),
    (status = 404, description = "No such version", body = ErrorBody)))]
pub async fn version(
    State(app): State<AppState>,
    caller: Caller,
    Path((name, vid)): Path<(String, String)>,
) -> Result<Json<PluginVersionView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.platform().plugin_version(&caller, &name, &vid))
            .await?,
    ))
}

/// Save an earlier version again (as a new version).
#[utoipa::path(post, path = "/plugins/{name}/rollback", operation_id = "rollback_plugin", tag = "plugins", params(SaveQuery), request_body = PluginRollback, responses(
    (status = 200, description = "Rolled back and running", body = PluginDetail),
    (status = 403, description = "Missing plugin.manage", body = ErrorBody),
    (status = 404, description = "No such version", body = ErrorBody),
    (status = 422, description = "That version no longer compiles (the API changed)", body = PluginErrorBody)))]
pub async fn rollback(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<SaveQuery>,
    ApiJson(input): ApiJson<PluginRollback>,
) -> Result<Response, ApiError> {
    let r = app
        .blocking(move |app| {
            app.platform()
                .rollback_plugin(&caller, &name, &input.version, q.force, &source)
        })
        .await?;
    Ok(saved(r))
}

/// Run a hook against a real customer (in the caller's scope); nothing is written. Script
/// errors come back in `error` with file and line.
#[utoipa::path(post, path = "/plugins/{name}/test", operation_id = "try_plugin", tag = "plugins", request_body = PluginTry, responses(
    (status = 200, description = "The decision, or the script error", body = PluginTryResult),
    (status = 400, description = "Unknown hook or pool", body = ErrorBody),
    (status = 403, description = "Missing plugin.manage", body = ErrorBody),
    (status = 404, description = "Customer absent or out of scope", body = ErrorBody)))]
pub async fn try_it(
    State(app): State<AppState>,
    caller: Caller,
    Path(_name): Path<String>,
    ApiJson(input): ApiJson<PluginTry>,
) -> Result<Json<PluginTryResult>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.platform().try_plugin(&caller, input))
            .await?,
    ))
}
