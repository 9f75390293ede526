//! `zhudai setup-link`: asks the running server (over the admin socket) for a fresh one-time
//! setup link, for an administrator who missed the one in the start-up log (e.g. a packaged
//! install: `sudo -u zhudai zhudai --data /var/lib/zhudai setup-link`). Beside a running
//! server only: the server issues a new link at every start, so one made offline would be
//! replaced before anyone could use it.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::admin_socket::{self, SetupLink};

#[derive(Args)]
pub struct Cmd {}

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        match admin_socket::setup_link(data)? {
            SetupLink::Link(link) => {
                println!("请在 30 分钟内打开下面的链接创建管理员账号（仅可使用一次）");
                println!(
                    "Open this link within 30 minutes to create the administrator (single use):"
                );
                println!("  {link}");
                Ok(ExitCode::SUCCESS)
            }
            SetupLink::Done => {
                println!(
                    "setup is done: an administrator exists (a forgotten password: `zhudai user reset-password NAME` with the server stopped)"
                );
                Ok(ExitCode::SUCCESS)
            }
            SetupLink::NoServer => anyhow::bail!(
                "no zhudai server runs on {} (start it: `systemctl start zhudai`; it prints a setup link at start while no administrator exists)",
                data.display()
            ),
        }
    }
}
