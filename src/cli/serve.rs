//! `zhudai serve`: prepares the data directory, migrates the store, prints the first-run setup
//! link when no administrator exists, and serves until SIGTERM or Ctrl-C.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::config::Config;
use crate::service::SystemClock;

#[derive(Args)]
pub struct Cmd {
    /// Address to listen on (config `server.listen`, default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
    /// Print the effective configuration (secrets hidden) and exit.
    #[arg(long)]
    print_config: bool,
}

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        let mut flags = Vec::new();
        if let Some(listen) = self.listen {
            flags.push(("server.listen", listen));
        }
        let data_for_config = data.exists().then_some(data);
        let loaded = Config::load(data_for_config, std::env::vars(), &flags)?;
        super::init_tracing_as(&loaded.config.log.level, loaded.config.log.format == "json");
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        if self.print_config {
            print!("{}", loaded.config.to_display_toml());
            return Ok(ExitCode::SUCCESS);
        }
        let config = loaded.config;
        // The allocator asks for transparent huge pages, which speed up an import; a server
        // would keep whole 2 MB pages for the few bytes it touches in each (78 MB instead of
        // 50 MB after start at 1M customers, docs/benchmarks.md, session 19).
        if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
            tracing::warn!(
                error = %e,
                "cannot turn off transparent huge pages; the server may hold more memory"
            );
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(serve(data, config))?;
        Ok(ExitCode::SUCCESS)
    }
}

async fn serve(data: &Path, config: Config) -> anyhow::Result<()> {
    let listen = config.server.listen.clone();
    let app = crate::open_app(data, config, Arc::new(SystemClock))
        .with_context(|| format!("cannot open the data directory {}", data.display()))?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // With `--listen 127.0.0.1:0` the OS picks the port: print the real one.
    let public_url = if app.config.server.public_url.is_empty() {
        format!("http://{bound}")
    } else {
        app.config.public_url()
    };
    let setup_token = app.blocking(|app| app.access().prepare_setup()).await?;

    println!(
        "zhudai {} — data directory {}",
        env!("CARGO_PKG_VERSION"),
        data.display()
    );
    if let Some(token) = setup_token {
        println!();
        println!("首次使用：请在 30 分钟内打开下面的链接创建管理员账号（仅可使用一次）");
        println!(
            "First run: open this link within 30 minutes to create the administrator (single use):"
        );
        println!("  {public_url}/setup#token={token}");
        println!();
    }
    // `zhudai backup` beside the running server asks it for snapshots over this socket.
    let admin = match crate::admin_socket::spawn(Arc::clone(&app), data) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("{e:#}; `zhudai backup` will not work while this server runs");
            None
        }
    };
    let scheduler = crate::jobs::backup::spawn(Arc::clone(&app));
    let indexer = crate::jobs::indexer::spawn(Arc::clone(&app));
    let sweeper = crate::jobs::pool::spawn(Arc::clone(&app));
    let housekeeper = crate::jobs::housekeeping::spawn(Arc::clone(&app));
    // Listen for SIGTERM before announcing the server: a stop sent right after the banner
    // must not be lost.
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let (metrics_stop, metrics_task) = if app.config.metrics.listen.is_empty() {
        (None, None)
    } else {
        let addr = app.config.metrics.listen.clone();
        let metrics_listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?;
        let bound = metrics_listener
            .local_addr()
            .context("cannot read the metrics address")?;
        println!("metrics on http://{bound}/metrics");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(crate::http::serve_metrics(
            metrics_listener,
            Arc::clone(&app),
            async {
                let _ = stopped.await;
            },
        ));
        (Some(stop), Some(task))
    };
    // Last line of the banner: scripts and tests wait for it.
    println!("listening on {public_url}");
    let served = crate::http::serve(listener, app, shutdown_signal(term)).await;
    if let Some(stop) = metrics_stop {
        let _ = stop.send(());
    }
    if let Some(task) = metrics_task {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "metrics listener failed"),
            Err(e) => tracing::error!(error = %e, "metrics listener task failed"),
        }
    }
    scheduler.shutdown().await;
    indexer.shutdown().await;
    sweeper.shutdown().await;
    housekeeper.shutdown().await;
    if let Some(admin) = admin {
        admin.shutdown().await;
    }
    served?;
    tracing::info!("stopped; store closed");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (systemd's stop).
async fn shutdown_signal(mut term: tokio::signal::unix::Signal) {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        term.recv().await;
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
