//! `zhudai plugin check [NAME]`: compiles and lints the plugins and runs their inline tests;
//! `zhudai plugin docs`: prints the plugin API reference. Both only read files, so they run
//! with the server stopped or running.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::script::{Plugins, api, check};

#[derive(Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Subcommand)]
enum Sub {
    /// Compile and lint plugins and run their inline tests (exit 1 on any failure).
    Check {
        /// Only this plugin (file name without .rhai).
        name: Option<String>,
        /// Check this directory instead of <data>/plugins (e.g. examples/plugins).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Print the plugin API reference (docs/plugins.md) generated from src/script/api.rs.
    Docs,
}

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        super::init_tracing("warn");
        match self.command {
            Sub::Docs => {
                let a = api::build();
                print!("{}", api::reference(&a.bindings));
                Ok(ExitCode::SUCCESS)
            }
            Sub::Check { name, dir } => {
                let dir = dir.unwrap_or_else(|| data.join("plugins"));
                let plugins = Plugins::new(&dir);
                let reports = check::check_dir(&plugins, &dir, name.as_deref())
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
                if reports.is_empty() {
                    match name {
                        Some(n) => anyhow::bail!("{} has no {n}.rhai", dir.display()),
                        None => {
                            println!("{}: no plugins (the built-in defaults run)", dir.display())
                        }
                    }
                }
                let mut failed = 0;
                for r in &reports {
                    for w in &r.warnings {
                        println!("warn  {}: {w}", r.file);
                    }
                    for f in &r.failures {
                        println!("FAIL  {f}");
                    }
                    if r.failures.is_empty() {
                        println!("ok    {}: {} test case(s) passed", r.file, r.passed);
                    }
                    failed += r.failures.len();
                }
                Ok(if failed == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
    }
}
