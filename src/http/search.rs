//! Customer search (全文检索): scope-filtered, ranked, with highlights and facets.

use axum::Json;
use axum::extract::State;

use super::error::ErrorBody;
use super::{ApiError, ApiQuery, AppState};
use crate::service::access::auth::Caller;
use crate::service::search::{SearchPage, SearchQuery};

/// Search my customers by name fragment, pinyin or initials, company, address, follow-up
/// text, the last 4 digits of a phone, the last 4/6 of an ID number, or a full phone/ID.
#[utoipa::path(get, path = "/search", operation_id = "search_customers", tag = "customers", params(SearchQuery), responses(
    (status = 200, description = "Matches in my scope, best first, with highlights and facets", body = SearchPage),
    (status = 400, description = "Query too long or cursor invalid", body = ErrorBody),
    (status = 403, description = "Missing customer.read", body = ErrorBody),
    (status = 503, description = "The index is being rebuilt (first start after a restore); or, without a body, cut off by `server.request_timeout_secs` while waiting for its turn (`server.search_concurrency`) or running", body = ErrorBody)))]
pub async fn search(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<SearchPage>, ApiError> {
    Ok(Json(
        app.searching(move |app| app.lookup().search_customers(&caller, &q))
            .await?,
    ))
}
