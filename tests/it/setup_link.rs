//! `zhudai setup-link`: a fresh one-time setup link from the running server over the admin
//! socket while no administrator exists; "done" once one exists; a clear refusal with no server.

use std::sync::Arc;

use zhudai::admin_socket::{self, SetupLink};

use crate::common::{Fixture, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_server_issues_a_fresh_link_that_works_once() {
    let server = TestServer::start(Fixture::Empty).await;
    let data = server.dir.path().to_path_buf();
    let admin = admin_socket::spawn(Arc::clone(&server.app), &data).unwrap();

    let ask = |data: std::path::PathBuf| async move {
        tokio::task::spawn_blocking(move || admin_socket::setup_link(&data))
            .await
            .unwrap()
            .unwrap()
    };
    let SetupLink::Link(first) = ask(data.clone()).await else {
        panic!("no link while no administrator exists");
    };
    let SetupLink::Link(link) = ask(data.clone()).await else {
        panic!("no second link");
    };
    assert_ne!(first, link, "each request issues a new token");
    let token = link.split_once("/setup#token=").unwrap().1.to_string();
    // The earlier link is void; the newest one creates the administrator.
    let old = first.split_once("/setup#token=").unwrap().1.to_string();
    assert!(
        server
            .app
            .access()
            .complete_setup(&old, "boss", "老板", "correct-horse-battery", "test")
            .is_err()
    );
    server
        .app
        .access()
        .complete_setup(&token, "boss", "老板", "correct-horse-battery", "test")
        .unwrap();
    assert!(matches!(ask(data.clone()).await, SetupLink::Done));
    admin.shutdown().await;
}

#[test]
fn without_a_server_it_says_so() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        admin_socket::setup_link(dir.path()).unwrap(),
        SetupLink::NoServer
    ));
}

/// Probe finding 15: `POST /setup` after setup judged the password ("密码不能包含用户名", 400)
/// before saying that setup is done.
#[tokio::test]
async fn setup_once_done_says_so_before_looking_at_the_input() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let (st, v) = s
        .client()
        .post(
            "/api/v1/setup",
            serde_json::json!({"token": "x", "username": "admin", "display_name": "",
                               "password": "admin"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (409, Some("setup_done")),
        "{v}"
    );
    s.stop().await;
}
