//! A recording fetched by the server from a URL the PBX gives (issue 22.1, optional part):
//! only from a host the admin allow-listed (`calls.recording_fetch_hosts`, `host:port`), plain
//! HTTP on the LAN, no redirects followed. The body streams into the same encrypted blob
//! writer as an upload (type sniffed, size capped) and is recorded like one.
//!
//! The request is HTTP/1.0 so the answer is never chunked: the body is read to the end of the
//! connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Deserialize;

use super::{IngestedCall, recording_error};
use crate::blobs::sniff::Accept;
use crate::domain::capability::Capability;
use crate::service::access::auth::Caller;
use crate::service::{Error, Result};

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchBody {
    /// `http://host:port/path` on an allow-listed host.
    pub url: String,
}

fn refused() -> Error {
    Error::validation("url", "录音地址不在允许的主机列表中（仅支持 http）")
}

impl super::UseCases<'_> {
    /// Fetches the recording at `url` for the call (`call.ingest`); 400 naming `url` when
    /// the host is not allow-listed, 503 `recording_fetch_failed` when the host does not
    /// answer 200.
    pub fn fetch_recording(
        &self,
        caller: &Caller,
        call_id: &str,
        body: FetchBody,
        source: &str,
    ) -> Result<IngestedCall> {
        self.check_recording(caller, call_id)?;
        caller.require(Capability::CallIngest)?;
        let (host, port, path) = super::dial::parse_url(&body.url).ok_or_else(refused)?;
        let authority = format!("{host}:{port}");
        if !self
            .config
            .calls
            .recording_fetch_hosts
            .iter()
            .any(|h| h.trim().eq_ignore_ascii_case(&authority))
        {
            return Err(refused());
        }
        let failed = |why: String| {
            tracing::warn!(url = %body.url, %why, "fetching a call recording");
            Error::Unavailable {
                code: "recording_fetch_failed",
                message: "无法从电话系统取回录音".into(),
            }
        };
        let addr = authority
            .to_socket_addrs()
            .map_err(|e| failed(e.to_string()))?
            .next()
            .ok_or_else(|| failed("no address".into()))?;
        let mut stream =
            TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| failed(e.to_string()))?;
        let io = |e: std::io::Error| failed(e.to_string());
        stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: zhudai\r\n\r\n"
        )
        .map_err(io)?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).map_err(io)?;
        if line.split(' ').nth(1) != Some("200") {
            return Err(failed(format!("status line {:?}", line.trim())));
        }
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(io)?;
            if n == 0 || line == "\r\n" || line == "\n" {
                break;
            }
            if line.len() > 8192 {
                return Err(failed("header too long".into()));
            }
        }
        let mut writer = self
            .blobs
            .writer_for(Accept::Audio, self.config.calls.recording_limit_bytes)
            .map_err(recording_error)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            writer.write(&buf[..n]).map_err(recording_error)?;
        }
        let staged = writer.finish().map_err(recording_error)?;
        self.add_recording(caller, call_id, staged, source)
    }
}
