//! The integration-test harness: the real app (real redb file, real key file) served in-process
//! on 127.0.0.1:0 from a private copy of a fixture data directory. No fixed ports, no sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use chrono::{TimeZone, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhudai::config::Config;
use zhudai::service::{App, ManualClock};

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";

/// The fixed start time of every test clock.
pub fn epoch() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 2, 0, 0)
        .single()
        .unwrap()
}

/// Completes first-run setup on `app` with [`ADMIN`] as the administrator ("管理员").
pub fn set_up_admin(app: &App) {
    let setup = app.access().prepare_setup().unwrap().unwrap();
    app.access()
        .complete_setup(&setup, ADMIN, "管理员", ADMIN_PASSWORD, "test")
        .unwrap();
}

pub struct TestServer {
    pub base: String,
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Clone, Copy)]
pub enum Fixture {
    /// A data directory as the first `serve` leaves it: no users yet.
    Empty,
    /// One administrator (`ADMIN` / `ADMIN_PASSWORD`), setup done.
    WithAdmin,
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Built once per test binary, then copied for each test.
fn template(fixture: Fixture) -> &'static Path {
    static EMPTY: OnceLock<tempfile::TempDir> = OnceLock::new();
    static ADMIN_DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let cell = match fixture {
        Fixture::Empty => &EMPTY,
        Fixture::WithAdmin => &ADMIN_DIR,
    };
    cell.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let app = zhudai::open_app(
            dir.path(),
            Config::defaults().unwrap(),
            Arc::new(ManualClock::new(epoch())),
        )
        .unwrap();
        // A new install has the firm-wide pool 公司公海 (tests/it/pools.rs covers that); the
        // scenarios here set up their own pools with the settings they test, so they start
        // from a store without any, as an admin who removed the default one would.
        app.store
            .write(|tx| {
                for p in zhudai::store::pools::all_w(tx)? {
                    zhudai::store::pools::delete(tx, &p.id)?;
                }
                Ok::<_, zhudai::store::Error>(())
            })
            .unwrap();
        if let Fixture::WithAdmin = fixture {
            let token = app.access().prepare_setup().unwrap().unwrap();
            app.access()
                .complete_setup(&token, ADMIN, "系统管理员", ADMIN_PASSWORD, "test")
                .unwrap();
        }
        drop(app);
        dir
    })
    .path()
}

impl TestServer {
    pub async fn start(fixture: Fixture) -> TestServer {
        Self::start_with_config(fixture, Config::defaults().unwrap()).await
    }

    pub async fn start_with_config(fixture: Fixture, config: Config) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template(fixture), dir.path());
        Self::start_in(dir, config, Arc::new(ManualClock::new(epoch()))).await
    }

    /// Stops the server and starts a new process-like instance on the same data directory
    /// and clock (what a restart looks like to the store).
    pub async fn restart(self) -> TestServer {
        let clock = Arc::clone(&self.clock);
        let config = self.app.config.clone();
        let dir = self.stop().await;
        Self::start_in(dir, config, clock).await
    }

    pub async fn start_in(
        dir: tempfile::TempDir,
        mut config: Config,
        clock: Arc<ManualClock>,
    ) -> TestServer {
        config.server.listen = "127.0.0.1:0".into();
        let app = zhudai::open_app(dir.path(), config, clock.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&app);
        let task = tokio::spawn(async move {
            zhudai::http::serve(listener, served, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            base,
            app,
            clock,
            dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A browser-like client with its own cookie jar.
    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.base.clone(),
            csrf: None,
        }
    }

    /// A client logged in as `username`.
    pub async fn login(&self, username: &str, password: &str) -> Client {
        let mut c = self.client();
        let (status, body) = c
            .call(
                Method::POST,
                "/api/v1/auth/login",
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login failed: {body}");
        c.csrf = body["csrf_token"].as_str().map(String::from);
        c
    }

    /// Stops the server and waits until it has let go of the store; hands back the data
    /// directory (deleted when the returned value is dropped).
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.dir
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: Option<String>,
}

impl Client {
    /// Sends a JSON request (with the CSRF header when logged in); returns status and JSON body
    /// (`Value::Null` for an empty body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(csrf) = &self.csrf {
            req = req.header("x-csrf-token", csrf);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
}

/// The password of accounts tests create with [`add_user`].
pub const TEAM_PASSWORD: &str = "team password 2026";

/// Creates an account as the operator; returns its id.
pub fn add_user(s: &TestServer, name: &str, roles: &[&str], department: Option<&str>) -> String {
    s.app
        .org()
        .create_user(
            &zhudai::service::org::users::Actor::Operator,
            zhudai::service::org::users::NewUser {
                username: name.into(),
                display_name: name.into(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                password: TEAM_PASSWORD.into(),
                department_id: department.map(String::from),
                manager_id: None,
                phone: None,
                broker: None,
                must_change_password: false,
            },
            "test",
        )
        .unwrap()
        .id
}

/// Creates a department (under `parent`) as the operator; returns its id.
pub fn add_department(s: &TestServer, name: &str, parent: Option<&str>) -> String {
    s.app
        .org()
        .create_department(
            &zhudai::service::org::users::Actor::Operator,
            zhudai::service::org::DepartmentInput {
                name: name.into(),
                parent_id: parent.map(String::from),
            },
            "test",
        )
        .unwrap()
        .id
}

/// Opens a store file with the audit key of data directory `data` (a migration that re-keys
/// the audit chain needs it; so does appending audit entries).
pub fn open_keyed(data: &Path, store_file: &Path) -> zhudai::store::Store {
    let key = zhudai::crypto::keyfile::load(&data.join("keys").join("master.key")).unwrap();
    zhudai::store::Store::open_keyed(
        store_file,
        zhudai::store::DEFAULT_CACHE_BYTES,
        Some(zhudai::crypto::audit_key(&key)),
    )
    .unwrap()
}

/// Runs `zhudai doctor` (with `extra` arguments) on the data directory `dir`; whether it
/// passed, and what it printed (stdout, then stderr).
pub fn doctor(dir: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["--data", dir.to_str().unwrap(), "doctor"];
    args.extend_from_slice(extra);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The lines a spawned zhudai writes on stdout and stderr, merged into one channel as they come
/// (each stream read on its own thread until it closes).
pub fn output_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, lines) = std::sync::mpsc::channel();
    let streams: [Option<Box<dyn std::io::Read + Send>>; 2] = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ];
    for stream in streams.into_iter().flatten() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    lines
}
