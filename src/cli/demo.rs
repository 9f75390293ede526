//! `zhudai demo`: realistic synthetic data. Staff accounts go into the store (server stopped);
//! customers are written as a CSV file with Chinese headers, ready for `zhudai import` and for
//! trying the import page (customer records in the store arrive with the customers module).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::progress::Progress;
use crate::config::Config;
use crate::service::SystemClock;
use crate::service::platform::demo::DEMO_PASSWORD;
use crate::synth::Generator;

#[derive(Args)]
pub struct Cmd {
    /// Synthetic customers to generate (needs --csv).
    #[arg(long, default_value_t = 0)]
    customers: u64,
    /// Synthetic staff accounts to add to the store (staff0001…, password printed).
    #[arg(long, default_value_t = 0)]
    staff: u64,
    /// Seed: the same seed gives the same data.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Write the customers to this CSV file (UTF-8 with BOM, opens in Excel/WPS).
    #[arg(long)]
    csv: Option<PathBuf>,
}

const HEADERS: &[&str] = &[
    "姓名",
    "手机号",
    "其他电话",
    "身份证号",
    "性别",
    "出生日期",
    "城市",
    "区县",
    "地址",
    "单位名称",
    "渠道",
    "阶段",
    "等级",
    "星级",
    "意向",
    "标签",
    "贷款金额(元)",
    "贷款期限(月)",
    "贷款用途",
    "职业",
    "月收入(元)",
    "社保月数",
    "公积金月数",
    "公积金基数(元)",
    "有房",
    "房产价值(元)",
    "有车",
    "近2年逾期次数",
    "近3月查询次数",
    "近6月查询次数",
    "负债(元)",
    "创建时间",
    "跟进次数",
    "最近跟进",
];

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        super::init_tracing("warn");
        if self.customers == 0 && self.staff == 0 {
            anyhow::bail!("nothing to do: give --customers N --csv FILE and/or --staff N");
        }
        if self.customers > 0 {
            let Some(path) = &self.csv else {
                anyhow::bail!(
                    "--customers needs --csv FILE: customer records are not stored yet in this version"
                );
            };
            write_csv(path, self.customers, self.seed)?;
            println!(
                "wrote {} synthetic customers to {}",
                self.customers,
                path.display()
            );
        }
        if self.staff > 0 {
            let config = Config::load(data.exists().then_some(data), std::env::vars(), &[])?.config;
            let app = crate::open_app(data, config, Arc::new(SystemClock))
                .with_context(|| format!("cannot open {}", data.display()))?;
            let added = app.platform().demo_staff(self.staff, self.seed)?;
            println!("added {added} staff accounts (staff0001…) with the password {DEMO_PASSWORD}");
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Writes to `FILE.partial` and renames at the end: an interrupted run never leaves a
/// truncated file under the real name, and an existing file is never overwritten.
fn write_csv(path: &Path, n: u64, seed: u64) -> anyhow::Result<()> {
    if path.exists() {
        anyhow::bail!("{} exists; choose another name", path.display());
    }
    let partial = path.with_extension("partial");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADERS)?;
    let mut g = Generator::new(seed, chrono::Utc::now());
    let mut progress = Progress::new("customers", n);
    let yuan = |fen: i64| (fen / 100).to_string();
    let yes = |b: bool| if b { "是" } else { "否" };
    for i in 0..n {
        let c = g.customer();
        let last = c
            .followups
            .last()
            .map(|f| f.content.clone())
            .unwrap_or_default();
        w.write_record([
            c.name.as_str(),
            &c.phone,
            &c.extra_phones.join(";"),
            &c.id_number,
            c.gender.label_zh(),
            &c.birth_date.to_string(),
            c.city,
            c.district,
            &c.address,
            c.company.as_deref().unwrap_or(""),
            c.channel,
            c.stage,
            &c.grade.to_string(),
            &c.stars.to_string(),
            c.intent,
            &c.tags.join(";"),
            &yuan(c.demand_amount_fen),
            &c.demand_term_months.to_string(),
            c.demand_purpose,
            c.occupation,
            &yuan(c.monthly_income_fen),
            &c.social_security_months.to_string(),
            &c.provident_fund_months.to_string(),
            &yuan(c.provident_fund_base_fen),
            yes(c.has_property),
            &yuan(c.property_value_fen),
            yes(c.has_car),
            &c.overdue_count_2y.to_string(),
            &c.inquiries_3m.to_string(),
            &c.inquiries_6m.to_string(),
            &yuan(c.existing_debt_fen),
            &c.created_at.to_rfc3339(),
            &c.followups.len().to_string(),
            &last,
        ])?;
        if i % 1000 == 999 {
            progress.inc(1000);
        }
    }
    progress.inc(n % 1000);
    progress.finish();
    w.flush()?;
    drop(w);
    std::fs::rename(&partial, path)?;
    Ok(())
}
