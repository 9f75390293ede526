//! The admin socket, `data/admin.sock`: how CLI commands reach a running server, since redb
//! admits one process per store. Owner-only (0600, inside the 0700 data directory). One JSON
//! line in, one JSON line out:
//!
//! ```text
//! {"op":"ping"}                                   → {"ok":true,"version":"0.1.0"}
//! {"op":"snapshot","path":"/abs/data/tmp/backup-….redb"}
//!                                                 → {"ok":true,"schema_version":4,"rows":123}
//!                                                 | {"ok":false,"error":"…"}
//! {"op":"reindex"}                                → {"ok":true,"rows":<documents>}
//! {"op":"setup_link"}                             → {"ok":true,"link":"http://…/setup#token=…"}
//!                                                 | {"ok":true} (an administrator exists)
//! {"op":"record_backup","record":{…RunRecord…}}   → {"ok":true} | {"ok":false,"error":"…"}
//! ```
//!
//! `record_backup` is how `zhudai backup` (perhaps a root cron job, another OS user than the
//! server's) reports its finished run, success or failure: the server writes the audit entry
//! and its own `backup-status.json`, so the CLI never writes the running server's files.
//!
//! `serve` (and tests) start it with [`spawn`]; a stale socket file with nobody listening is
//! replaced, and the file is removed on shutdown.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::service::App;
use crate::store::audit::NewAudit;
use crate::store::snapshot::{Method, Snapshot};

pub const SOCKET_NAME: &str = "admin.sock";
/// Longest request line accepted.
const REQUEST_LIMIT: u64 = 16 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Ping,
    /// Copy the store into `path`, which must be a new file in the data directory's `tmp/`.
    Snapshot {
        path: PathBuf,
    },
    /// Rebuild the search index online.
    Reindex,
    /// Issue a fresh first-run setup link (replacing the one printed at start), while no
    /// administrator exists.
    SetupLink,
    /// Record a finished `zhudai backup` run (the status page, metrics, `doctor`, audit).
    RecordBackup {
        record: crate::jobs::backup::RunRecord,
    },
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// A snapshot's audit head (with `snapshot_method`: a server before it sent neither, and
    /// its copy was a clean file to read the head from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<crate::store::audit::Head>,
    /// How the snapshot was taken: `file` (copied whole, opened once on restore) or `rows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_method: Option<String>,
}

impl Reply {
    fn error(message: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            error: Some(message.into()),
            ..Reply::default()
        }
    }
}

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// The listening socket; stop it with [`AdminSocket::shutdown`] (dropping it also removes the
/// socket file).
pub struct AdminSocket {
    path: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts listening on `data_dir/admin.sock`. Needs a tokio runtime.
pub fn spawn(app: Arc<App>, data_dir: &Path) -> anyhow::Result<AdminSocket> {
    let path = socket_path(data_dir);
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            anyhow::bail!(
                "another process answers on {}; is a second server running?",
                path.display()
            );
        }
        // Left by a server that was killed: nobody listens.
        std::fs::remove_file(&path)
            .map_err(|e| anyhow::anyhow!("cannot remove the stale {}: {e}", path.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(&path)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| anyhow::anyhow!("cannot restrict {}: {e}", path.display()))?;
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let app = Arc::clone(&app);
                        tokio::spawn(async move {
                            if let Err(e) = serve_one(app, stream).await {
                                tracing::warn!(error = %e, "admin socket request failed");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "admin socket accept failed");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
            }
        }
    });
    tracing::info!(path = %path.display(), "admin socket listening");
    Ok(AdminSocket {
        path,
        stop: Some(stop),
        task: Some(task),
    })
}

impl AdminSocket {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting and removes the socket file.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for AdminSocket {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve_one(app: Arc<App>, stream: tokio::net::UnixStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read.take(REQUEST_LIMIT));
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no request"))??;
    let reply = match serde_json::from_str::<Request>(line.trim()) {
        Err(e) => Reply::error(format!("bad request: {e}")),
        Ok(Request::Ping) => Reply {
            ok: true,
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            ..Reply::default()
        },
        Ok(Request::Snapshot { path }) => {
            let app2 = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || snapshot_for_client(&app2, &path)).await {
                Ok(Ok((s, method))) => Reply {
                    ok: true,
                    schema_version: s.schema_version,
                    rows: Some(s.rows),
                    audit_head: s.audit_head,
                    snapshot_method: Some(
                        match method {
                            Method::File => "file",
                            Method::Rows => "rows",
                        }
                        .into(),
                    ),
                    ..Reply::default()
                },
                Ok(Err(message)) => Reply::error(message),
                Err(e) => Reply::error(format!("snapshot task failed: {e}")),
            }
        }
        Ok(Request::Reindex) => {
            let app2 = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || app2.lookup().reindex(&|_, _| {}, &|| {}))
                .await
            {
                Ok(Ok(status)) => Reply {
                    ok: true,
                    rows: Some(status.documents),
                    ..Reply::default()
                },
                Ok(Err(e)) => Reply::error(e.to_string()),
                Err(e) => Reply::error(format!("reindex task failed: {e}")),
            }
        }
        Ok(Request::SetupLink) => {
            let app2 = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || app2.access().prepare_setup()).await {
                Ok(Ok(token)) => {
                    if token.is_some() {
                        tracing::info!("a new setup link was issued over the admin socket");
                    }
                    Reply {
                        ok: true,
                        link: token.map(|t| format!("{}/setup#token={t}", app.config.public_url())),
                        ..Reply::default()
                    }
                }
                Ok(Err(e)) => Reply::error(e.to_string()),
                Err(e) => Reply::error(format!("setup task failed: {e}")),
            }
        }
        Ok(Request::RecordBackup { record }) => {
            let app2 = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || {
                crate::jobs::backup::record_cli_run(&app2, record)
            })
            .await
            {
                Ok(Ok(())) => Reply {
                    ok: true,
                    ..Reply::default()
                },
                Ok(Err(message)) => Reply::error(message),
                Err(e) => Reply::error(format!("record task failed: {e}")),
            }
        }
    };
    let mut out = serde_json::to_vec(&reply).unwrap_or_default();
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

fn snapshot_for_client(app: &App, path: &Path) -> Result<(Snapshot, Method), String> {
    let tmp = std::fs::canonicalize(app.data_dir.join("tmp"))
        .map_err(|e| format!("the data directory has no tmp/ folder: {e}"))?;
    let name_ok = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("backup-") && n.ends_with(".redb"));
    let parent_ok = path.is_absolute()
        && path
            .parent()
            .and_then(|p| std::fs::canonicalize(p).ok())
            .is_some_and(|p| p == tmp);
    if !name_ok || !parent_ok {
        return Err(format!(
            "refused: a snapshot goes to a new tmp/backup-….redb file of this server's data directory ({})",
            tmp.display()
        ));
    }
    let (snap, method) = app.store.snapshot_by(path).map_err(|e| e.to_string())?;
    let now = app.now();
    let audited = app.store.write(|tx| {
        crate::service::access::audit::record(
            tx,
            now,
            NewAudit {
                actor_id: None,
                actor: "operator".into(),
                action: "backup.snapshot",
                target: None,
                detail: serde_json::json!({
                    "rows": snap.rows,
                    "schema_version": snap.schema_version,
                }),
                source: "admin-socket".into(),
            },
        )
    });
    if let Err(e) = audited {
        let _ = std::fs::remove_file(path);
        return Err(format!("cannot record the snapshot in the audit log: {e}"));
    }
    Ok((snap, method))
}

/// Connects to the server on `data_dir`; `None` when none listens there.
fn connect(data_dir: &Path) -> Option<std::os::unix::net::UnixStream> {
    std::os::unix::net::UnixStream::connect(socket_path(data_dir)).ok()
}

fn call(
    mut stream: std::os::unix::net::UnixStream,
    request: &Request,
    timeout: Duration,
) -> std::io::Result<Reply> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut line = serde_json::to_vec(request).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    serde_json::from_str(reply.trim()).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unexpected reply from the server: {e}"),
        )
    })
}

/// Does a zhudai server answer on `data_dir`'s admin socket?
pub fn ping(data_dir: &Path) -> bool {
    connect(data_dir)
        .and_then(|s| call(s, &Request::Ping, Duration::from_secs(5)).ok())
        .is_some_and(|r| r.ok)
}

/// Asks the running server for a snapshot at `path`; `Ok(None)` when no server runs.
pub fn snapshot(data_dir: &Path, path: &Path) -> crate::backup::Result<Option<Snapshot>> {
    let Some(stream) = connect(data_dir) else {
        return Ok(None);
    };
    let request = Request::Snapshot {
        path: path.to_path_buf(),
    };
    let reply = call(stream, &request, Duration::from_secs(3600)).map_err(|e| {
        crate::backup::Error::Io {
            what: "the running server did not complete the snapshot".into(),
            source: e,
        }
    })?;
    if !reply.ok {
        return Err(crate::backup::Error::Refused(format!(
            "the running server refused the snapshot: {}",
            reply.error.unwrap_or_else(|| "it gave no reason".into())
        )));
    }
    let audit_head = match reply.snapshot_method {
        Some(_) => reply.audit_head,
        // A server of an earlier release: its copy is a clean file.
        None => crate::store::snapshot::audit_head_of_file(path)?,
    };
    Ok(Some(Snapshot {
        schema_version: reply.schema_version,
        rows: reply.rows.unwrap_or(0),
        audit_head,
    }))
}

/// Asks the running server to rebuild the search index; `Ok(None)` when no server runs.
/// Returns the number of customers indexed.
pub fn reindex(data_dir: &Path) -> anyhow::Result<Option<u64>> {
    let Some(stream) = connect(data_dir) else {
        return Ok(None);
    };
    let reply = call(stream, &Request::Reindex, Duration::from_secs(3600))
        .map_err(|e| anyhow::anyhow!("the running server did not complete the rebuild: {e}"))?;
    if !reply.ok {
        anyhow::bail!(
            "the running server could not rebuild the index: {}",
            reply.error.unwrap_or_else(|| "it gave no reason".into())
        );
    }
    Ok(Some(reply.rows.unwrap_or(0)))
}

/// What the running server said to `setup-link`.
pub enum SetupLink {
    /// No server answers on this data directory.
    NoServer,
    /// An administrator exists: setup is done.
    Done,
    Link(String),
}

/// Asks the running server for a fresh setup link.
pub fn setup_link(data_dir: &Path) -> anyhow::Result<SetupLink> {
    let Some(stream) = connect(data_dir) else {
        return Ok(SetupLink::NoServer);
    };
    let reply = call(stream, &Request::SetupLink, Duration::from_secs(30))
        .map_err(|e| anyhow::anyhow!("the running server did not answer: {e}"))?;
    if !reply.ok {
        anyhow::bail!(
            "the running server could not issue a setup link: {}",
            reply.error.unwrap_or_else(|| "it gave no reason".into())
        );
    }
    Ok(reply.link.map_or(SetupLink::Done, SetupLink::Link))
}

/// Asks the running server to record a finished `zhudai backup` run; `Ok(false)` when no
/// server runs (the caller then records it itself: it owns the data directory).
pub fn record_backup(
    data_dir: &Path,
    record: &crate::jobs::backup::RunRecord,
) -> anyhow::Result<bool> {
    let Some(stream) = connect(data_dir) else {
        return Ok(false);
    };
    let request = Request::RecordBackup {
        record: record.clone(),
    };
    let reply = call(stream, &request, Duration::from_secs(60))
        .map_err(|e| anyhow::anyhow!("the running server did not record the backup: {e}"))?;
    if !reply.ok {
        anyhow::bail!(
            "the running server could not record the backup: {}",
            reply.error.unwrap_or_else(|| "it gave no reason".into())
        );
    }
    Ok(true)
}
