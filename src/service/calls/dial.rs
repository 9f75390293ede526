//! Click-to-call (issue 22.2): the server asks the PBX's HTTP endpoint (`calls.click_to_call_url`)
//! to ring the agent's extension and dial the customer. The number is decrypted here and sent
//! only to the PBX: it never reaches the browser. Scope-checked (out of scope: 404), audited
//! before the PBX is asked, and rate-limited per user.
//!
//! The request is plain HTTP/1.1 over a TCP connection with timeouts (a PBX on the LAN; for
//! https, put a local proxy in front — docs/calls.md): zhudai has no HTTP client crate, and one
//! POST with a JSON body needs none.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::domain::capability::Capability;
use crate::service::access::auth::Caller;
use crate::service::{Error, Result};
use crate::store::pools;

/// Click-to-call requests per user per minute.
pub const PER_MINUTE: u64 = 10;
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Dialed {
    /// The number dialled, masked.
    pub number: String,
    /// The extension the PBX was asked to ring.
    pub extension: String,
}

/// `http://host[:port]/path` → (host, port, path).
pub(super) fn parse_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.trim().strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (authority, 80),
    };
    if host.is_empty() || path.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    Some((host.to_string(), port, path.to_string()))
}

/// POSTs `body` as JSON; `Ok(status)` of the answer.
fn post_json(url: &str, token: &str, body: &serde_json::Value) -> std::io::Result<u16> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, m.to_string());
    let (host, port, path) = parse_url(url).ok_or_else(|| bad("click_to_call_url"))?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| bad("no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let payload = body.to_string();
    let auth = if token.is_empty() {
        String::new()
    } else {
        format!("Authorization: Bearer {token}\r\n")
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{auth}Connection: close\r\nUser-Agent: zhudai\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(payload.as_bytes())?;
    stream.flush()?;
    // The status line is all we need: `HTTP/1.1 200 OK`.
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        let n = stream.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let line = String::from_utf8_lossy(&buf[..got]);
    line.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))
}

impl super::UseCases<'_> {
    /// Asks the PBX to call the customer from the caller's extension (`customer.edit`, the
    /// customer in the caller's scope). Refused when not configured (409 `click_to_call_off`),
    /// more than [`PER_MINUTE`] a minute (429), or when the PBX does not accept (503
    /// `pbx_unreachable`); the audit row is written before the PBX is asked.
    pub fn dial(&self, caller: &Caller, customer_id: &str, source: &str) -> Result<Dialed> {
        caller.require(Capability::CustomerEdit)?;
        let url = self.config.calls.click_to_call_url.trim().to_string();
        if url.is_empty() {
            return Err(Error::Conflict {
                code: "click_to_call_off",
                message: "未配置点击拨号".into(),
            });
        }
        let extension = caller
            .user
            .extension
            .clone()
            .unwrap_or_else(|| caller.user.username.clone());
        let ctx = self.ctx(caller, source)?;
        let minute = ctx.now.format("%Y-%m-%dT%H:%M").to_string();
        let (number, masked) = ctx.write(|w| {
            let c = w.live(customer_id)?;
            let key = format!("c2c/{}/{minute}", caller.user.id);
            if pools::counter_w(w.tx, &key)? >= PER_MINUTE {
                return Err(Error::Throttled {
                    retry_after_secs: 60,
                });
            }
            pools::bump(w.tx, &key)?;
            let number = self
                .fields
                .decrypt(&c.id, "phone", &c.phone.enc)
                .map_err(|e| Error::Internal(e.to_string()))?;
            w.audit(
                "call.dialed",
                Some(&c.id),
                json!({"extension": extension, "number": c.phone.masked}),
            )?;
            Ok((number, c.phone.masked.clone()))
        })?;
        let body = json!({"extension": extension, "number": number});
        match post_json(&url, &self.config.calls.click_to_call_token, &body) {
            Ok(status) if (200..300).contains(&status) => Ok(Dialed {
                number: masked,
                extension,
            }),
            other => {
                tracing::warn!(result = ?other.map_err(|e| e.to_string()), "click-to-call: the PBX did not accept");
                Err(Error::Unavailable {
                    code: "pbx_unreachable",
                    message: "电话系统未响应，请稍后重试".into(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_plain_http_with_a_host() {
        assert_eq!(
            parse_url("http://10.0.0.5:8088/originate"),
            Some(("10.0.0.5".into(), 8088, "/originate".into()))
        );
        assert_eq!(
            parse_url("http://pbx.lan"),
            Some(("pbx.lan".into(), 80, "/".into()))
        );
        assert_eq!(parse_url("https://pbx.lan/x"), None);
        assert_eq!(parse_url("http://:80/x"), None);
        assert_eq!(parse_url("http://pbx/a b"), None);
    }
}
