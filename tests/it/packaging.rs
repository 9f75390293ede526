//! What the packages rely on: `zhudai health` (the container HEALTHCHECK) against a real
//! server and against nothing.

use crate::common::{Fixture, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zhudai_health_exits_0_on_a_live_server_and_1_without_one() {
    let s = TestServer::start(Fixture::Empty).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let run = |addr: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
            .args(["health", "--addr", &addr, "--timeout", "5"])
            .env_remove("ZHUDAI_DATA")
            .env_remove("ZHUDAI_CONFIG")
            .output()
            .unwrap()
    };
    let out = {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || run(addr))
            .await
            .unwrap()
    };
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"status\":\"ok\""));
    drop(s.stop().await);
    let out = tokio::task::spawn_blocking(move || run(addr))
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no server answers"));
}
