//! `zhudai health`: asks a running server's `GET /api/v1/health` and exits 0 on a 200 answer —
//! the container image's HEALTHCHECK (a distroless image has no curl or shell). Plain HTTP/1.0
//! over a TCP socket to the configured listen port on the loopback address.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::config::Config;

#[derive(Args)]
pub struct Cmd {
    /// Address to ask (default: the configured `server.listen`, with 0.0.0.0 or :: asked on
    /// the loopback address).
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    timeout: u64,
}

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        let addr = match self.addr {
            Some(a) => a,
            None => {
                let config =
                    Config::load(data.exists().then_some(data), std::env::vars(), &[])?.config;
                let listen: SocketAddr = config
                    .server
                    .listen
                    .parse()
                    .context("server.listen is not an address")?;
                loopback(listen)
            }
        };
        let body = ask(addr, Duration::from_secs(self.timeout.max(1)))?;
        println!("{body}");
        Ok(ExitCode::SUCCESS)
    }
}

/// A wildcard listen address is asked on the loopback address of its family.
fn loopback(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// The health answer's body, or why there is none.
pub fn ask(addr: SocketAddr, timeout: Duration) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("no server answers on {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /api/v1/health HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream
        .take(64 * 1024)
        .read_to_end(&mut answer)
        .with_context(|| format!("no complete answer from {addr}"))?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("");
    let ok = status
        .split_whitespace()
        .nth(1)
        .is_some_and(|code| code == "200");
    if !ok {
        anyhow::bail!("{addr} answered `{status}` to GET /api/v1/health");
    }
    Ok(body.trim().to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
    use super::*;

    #[test]
    fn a_wildcard_address_is_asked_on_loopback() {
        let a: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(loopback(a).to_string(), "127.0.0.1:8080");
        let b: SocketAddr = "[::]:9000".parse().unwrap();
        assert_eq!(loopback(b).to_string(), "[::1]:9000");
        let c: SocketAddr = "10.0.0.5:80".parse().unwrap();
        assert_eq!(loopback(c), c);
    }

    #[test]
    fn nothing_listening_is_an_error_naming_the_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = ask(addr, Duration::from_secs(2)).err();
        assert!(e.is_some_and(|e| e.to_string().contains(&addr.to_string())));
    }
}
