//! The one place where errors become HTTP responses: `{"error":{"code","message","field"}}`
//! with the status of API.md. Internal causes are logged here, once, and never sent.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::Error;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code for programs.
    pub code: String,
    /// Human-readable message (Chinese).
    pub message: String,
    /// The input field at fault, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Machine-readable facts of a refusal (e.g. `{"rule": "claim_daily_limit"}` for
    /// `claim_refused`), so a client shows its own text and never parses `message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// For internal errors (500): the request id (also the `X-Request-Id` header) that names
    /// the server's log lines of this failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Marks a response as an internal error, so the request-id layer can put the id in its body.
#[derive(Debug, Clone, Copy)]
pub struct InternalMarker;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    pub details: Option<serde_json::Value>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            field: None,
            details: None,
            retry_after: None,
        }
    }

    /// The canned error for a status produced outside our handlers (body limit, timeout, 405).
    pub fn for_status(status: StatusCode) -> ApiError {
        let (code, message) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "请求内容过大"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "不支持该请求方法"),
            StatusCode::NOT_FOUND => ("not_found", "资源不存在"),
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
                ("timeout", "请求处理超时，请稍后重试")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "请求需使用 Content-Type: application/json",
            ),
            s if s.is_client_error() => ("bad_request", "请求无效"),
            _ => ("internal", "服务器内部错误"),
        };
        ApiError::new(status, code, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        use StatusCode as S;
        match e {
            Error::Validation { field, reason } => ApiError {
                field: Some(field),
                ..ApiError::new(S::BAD_REQUEST, "validation", reason)
            },
            Error::Unauthenticated => ApiError::new(S::UNAUTHORIZED, "unauthenticated", "请先登录"),
            Error::InvalidCredentials => {
                ApiError::new(S::UNAUTHORIZED, "invalid_credentials", "用户名或密码错误")
            }
            Error::TokenRejected { code, message } => ApiError::new(S::UNAUTHORIZED, code, message),
            Error::CsrfRejected => ApiError::new(
                S::FORBIDDEN,
                "csrf_rejected",
                "请求缺少有效的 X-CSRF-Token，请刷新页面后重试",
            ),
            Error::Forbidden(cap) => ApiError::new(
                S::FORBIDDEN,
                "forbidden",
                format!("没有执行此操作的权限（需要 {cap}）"),
            ),
            Error::Denied {
                code,
                message,
                details,
            } => ApiError {
                details: Some(details),
                ..ApiError::new(S::FORBIDDEN, code, message)
            },
            Error::NotFound => ApiError::new(S::NOT_FOUND, "not_found", "资源不存在"),
            Error::Conflict { code, message } => ApiError::new(S::CONFLICT, code, message),
            Error::Refused {
                code,
                message,
                details,
            } => ApiError {
                details: Some(details),
                // A refusal of who the caller is (`*_forbidden`, e.g. an override only a
                // manager may give) is a 403; every other refusal a 409.
                ..ApiError::new(
                    if code.ends_with("_forbidden") {
                        S::FORBIDDEN
                    } else {
                        S::CONFLICT
                    },
                    code,
                    message,
                )
            },
            Error::Unprocessable { code, message } => {
                ApiError::new(S::UNPROCESSABLE_ENTITY, code, message)
            }
            Error::Unavailable { code, message } => {
                ApiError::new(S::SERVICE_UNAVAILABLE, code, message)
            }
            Error::Gone { code, message } => ApiError::new(S::GONE, code, message),
            Error::Throttled { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    S::TOO_MANY_REQUESTS,
                    "throttled",
                    format!("尝试次数过多，请 {retry_after_secs} 秒后再试"),
                )
            },
            Error::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ApiError::for_status(S::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        match r {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            JsonRejection::JsonDataError(e) => json_data_error(&e.body_text()),
            JsonRejection::JsonSyntaxError(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_json", "请求体不是有效的 JSON")
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE)
            }
            other => ApiError::new(other.status(), "bad_request", other.body_text()),
        }
    }
}

/// serde's account of a JSON body that parsed but does not fit ("missing field `x`",
/// "a.b: invalid type: …", "x: unknown field `x`", "s: unknown variant `v`, expected one of …")
/// → the field it names and a Chinese reason naming it; serde's own words go in
/// `details.detail` for the integrator, not in the message a page shows.
fn json_data_error(text: &str) -> ApiError {
    let detail = text.split_once("target type: ").map_or(text, |(_, d)| d);
    let detail = detail.split(" at line ").next().unwrap_or(detail);
    // "path: rest" — a path has no spaces (serde_path_to_error's dotted path, `.` at the top).
    let (path, rest) = match detail.split_once(": ") {
        Some((p, r)) if !p.contains(' ') && p != "." => (Some(p), r),
        _ => (None, detail),
    };
    let quoted = |s: &str, after: &str| -> Option<String> {
        s.split_once(after)
            .and_then(|(_, r)| r.split('`').next())
            .map(str::to_string)
    };
    let (field, message) = if let Some(name) = quoted(rest, "missing field `") {
        let field = path.map_or(name.clone(), |p| format!("{p}.{name}"));
        (Some(field), format!("缺少必填字段「{name}」"))
    } else if let Some(name) = quoted(rest, "unknown field `") {
        let field = path.map_or(name.clone(), str::to_string);
        (Some(field), format!("不支持字段「{name}」，请删去它"))
    } else if let (Some(p), Some(value)) = (path, quoted(rest, "unknown variant `")) {
        let allowed: Vec<&str> = rest
            .split_once("expected one of ")
            .map(|(_, l)| l.split(", ").map(|v| v.trim_matches('`')).collect())
            .unwrap_or_default();
        let message = if allowed.is_empty() {
            format!("字段「{p}」的取值「{value}」不正确")
        } else {
            format!(
                "字段「{p}」的取值「{value}」不在可选值中（可选：{}）",
                allowed.join("、")
            )
        };
        (Some(p.to_string()), message)
    } else if let Some(p) = path {
        let want = expected_kind(rest.split_once("expected ").map_or("", |(_, e)| e));
        let kind = if rest.starts_with("invalid type") {
            "类型"
        } else {
            "取值"
        };
        let message = match want {
            Some(zh) => format!("字段「{p}」的{kind}不正确，应为{zh}"),
            None => format!("字段「{p}」的{kind}不正确"),
        };
        (Some(p.to_string()), message)
    } else {
        (None, "请求内容与接口要求不符".to_string())
    };
    ApiError {
        field,
        details: Some(serde_json::json!({ "detail": detail })),
        ..ApiError::new(StatusCode::BAD_REQUEST, "validation", message)
    }
}

/// What serde's "expected …" asks for, in Chinese (`None`: say nothing rather than guess).
fn expected_kind(expected: &str) -> Option<&'static str> {
    let has = |word: &str| expected.contains(word);
    if has("sequence") {
        Some("数组")
    } else if has("string") {
        Some("文本")
    } else if has("bool") {
        Some("true 或 false")
    } else if has("map") || has("struct") {
        Some("对象")
    } else if has("integer")
        || ["u8", "u16", "u32", "u64", "i32", "i64", "usize"]
            .iter()
            .any(|k| has(k))
    {
        Some("整数")
    } else if has("f64") || has("number") {
        Some("数字")
    } else if has("date") {
        Some("日期")
    } else {
        None
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
                details: self.details,
                request_id: None,
            },
        };
        let internal = self.status == StatusCode::INTERNAL_SERVER_ERROR;
        let mut resp = (self.status, Json(body)).into_response();
        if internal {
            resp.extensions_mut().insert(InternalMarker);
        }
        if let Some(v) = self
            .retry_after
            .and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status/code table of API.md. A change here is a change of the public contract.
    #[test]
    fn mapping_table() {
        let cases: Vec<(Error, u16, &str)> = vec![
            (
                Error::validation("phone", "手机号格式不正确"),
                400,
                "validation",
            ),
            (Error::Unauthenticated, 401, "unauthenticated"),
            (Error::InvalidCredentials, 401, "invalid_credentials"),
            (
                Error::TokenRejected {
                    code: "setup_token_invalid",
                    message: "x".into(),
                },
                401,
                "setup_token_invalid",
            ),
            (Error::CsrfRejected, 403, "csrf_rejected"),
            (Error::Forbidden("customer.export".into()), 403, "forbidden"),
            (
                Error::Denied {
                    code: "session_required",
                    message: "x".into(),
                    details: serde_json::json!({}),
                },
                403,
                "session_required",
            ),
            (Error::NotFound, 404, "not_found"),
            (
                Error::Conflict {
                    code: "duplicate",
                    message: "x".into(),
                },
                409,
                "duplicate",
            ),
            (
                Error::Refused {
                    code: "claim_refused",
                    message: "x".into(),
                    details: serde_json::json!({"rule": "claim_daily_limit"}),
                },
                409,
                "claim_refused",
            ),
            (
                Error::Unprocessable {
                    code: "bad_stage",
                    message: "x".into(),
                },
                422,
                "bad_stage",
            ),
            (
                Error::Gone {
                    code: "sign_link_gone",
                    message: "x".into(),
                },
                410,
                "sign_link_gone",
            ),
            (
                Error::Throttled {
                    retry_after_secs: 30,
                },
                429,
                "throttled",
            ),
            (
                Error::Internal("disk on fire at /secret/path".into()),
                500,
                "internal",
            ),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from(err);
            assert_eq!(api.status.as_u16(), status, "{code}");
            assert_eq!(api.code, code);
            assert!(
                !api.message.contains("/secret/path"),
                "internal cause leaked"
            );
        }
        assert_eq!(
            ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE).code,
            "payload_too_large"
        );
    }

    #[test]
    fn validation_names_field_and_throttle_sets_retry_after() {
        let resp = ApiError::from(Error::Throttled {
            retry_after_secs: 17,
        })
        .into_response();
        assert_eq!(resp.headers()[header::RETRY_AFTER], "17");
        let api = ApiError::from(Error::Refused {
            code: "claim_refused",
            message: "今日领取已达上限（规则：claim_daily_limit）".into(),
            details: serde_json::json!({"rule": "claim_daily_limit"}),
        });
        assert_eq!(
            api.details,
            Some(serde_json::json!({"rule": "claim_daily_limit"}))
        );
        let api = ApiError::from(Error::validation("username", "太短"));
        assert_eq!(api.field.as_deref(), Some("username"));
        assert_eq!(api.message, "太短");
    }

    /// A JSON body that parsed but does not fit: the reason in Chinese naming the field; serde's
    /// English only in `details.detail`, for the integrator.
    #[test]
    fn body_refusals_speak_chinese_and_name_the_field() {
        let cases: &[(&str, Option<&str>, &[&str])] = &[
            (
                "Failed to deserialize the JSON body into the target type: password: unknown \
                 field `password`, expected one of `display_name`, `roles` at line 1 column 11",
                Some("password"),
                &["不支持字段「password」"],
            ),
            (
                "Failed to deserialize the JSON body into the target type: missing field \
                 `password` at line 1 column 20",
                Some("password"),
                &["缺少必填字段「password」"],
            ),
            (
                "Failed to deserialize the JSON body into the target type: roles: invalid type: \
                 string \"admin\", expected a sequence at line 1 column 17",
                Some("roles"),
                &["字段「roles」", "数组"],
            ),
            (
                "Failed to deserialize the JSON body into the target type: status: unknown \
                 variant `gone`, expected one of `active`, `disabled` at line 1 column 17",
                Some("status"),
                &["字段「status」", "gone", "active、disabled"],
            ),
            (
                "Failed to deserialize the JSON body into the target type: broker.channel_id: \
                 invalid type: integer `5`, expected a string at line 1 column 30",
                Some("broker.channel_id"),
                &["字段「broker.channel_id」", "文本"],
            ),
        ];
        for (text, field, words) in cases {
            let e = json_data_error(text);
            assert_eq!(e.field.as_deref(), *field, "{text}");
            assert_eq!(e.code, "validation");
            for w in *words {
                assert!(e.message.contains(w), "{text}: {}", e.message);
            }
            assert!(
                !e.message.contains("expected") && !e.message.contains("field `"),
                "no English in the message: {}",
                e.message
            );
            let detail = e.details.as_ref().and_then(|d| d["detail"].as_str());
            assert!(
                detail.is_some_and(|d| d.contains("expected") || d.contains("missing field")),
                "serde's words kept apart: {:?}",
                e.details
            );
        }
    }
}
