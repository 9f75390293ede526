//! Matching one customer against every active product (`GET /customers/{id}/matches`): the
//! requirements are checked in `domain::matching` (every failing one named), then the plugin
//! hook `products.score` ranks what passes.

use chrono::{Datelike, Days};
use serde::Serialize;

use crate::domain::customer::{Customer, Demand};
use crate::domain::matching::{self, Applicant, Decision, Estimate, Finding, Status};
use crate::domain::product::{Category, Product};
use crate::script::ScoreInput;
use crate::script::hooks::SCORE;
use crate::service::access::auth::Caller;
use crate::service::{Error, Result};
use crate::store;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProductMatch {
    pub product_id: String,
    pub name: String,
    pub lender: String,
    pub category: Category,
    pub status: Status,
    /// Every requirement the customer fails, in Chinese with the value and the bar.
    pub failures: Vec<Finding>,
    /// Requirements the profile does not answer: information to collect.
    pub missing: Vec<Finding>,
    /// For an ineligible product failing only one curable requirement: what would change it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub near_miss: Option<Finding>,
    /// The amount and term the customer could get and the first monthly payment range
    /// (eligible and needs-information products).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
    /// The plugin's rank (higher first); 0 for products the plugin does not score.
    pub score: i64,
    /// The plugin's reasons for its score, shown beside the product.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MatchReport {
    pub customer_id: String,
    /// Eligible first (by score), then needs-information, then near misses (closest first),
    /// then the other ineligible products.
    pub items: Vec<ProductMatch>,
    pub eligible: usize,
    pub needs_info: usize,
    pub ineligible: usize,
    /// The scoring plugin failed: products are listed unscored, and the admin sees the error on
    /// the plugin page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_error: Option<String>,
}

fn rank(m: &ProductMatch) -> (u8, i64, u32, &str) {
    match (m.status, &m.near_miss) {
        (Status::Eligible, _) => (0, -m.score, 0, &m.name),
        (Status::NeedsInfo, _) => (1, -m.score, 0, &m.name),
        (Status::Ineligible, Some(f)) => (2, 0, f.gap.unwrap_or(u32::MAX), &m.name),
        (Status::Ineligible, None) => (3, 0, 0, &m.name),
    }
}

impl crate::service::products::UseCases<'_> {
    /// Every active product for customer `id` (404 outside the caller's scope).
    pub fn matches(&self, caller: &Caller, id: &str) -> Result<MatchReport> {
        let customer = self.customers().visible_customer(caller, id)?;
        let viewer = self.viewer(caller);
        let age = viewer.age(&customer)?;
        let born = viewer.born(&customer)?;
        let products = self.store.read(store::products::all)?;
        let report = self.match_products(&customer, age, born, &products)?;
        self.count_matched(caller, &customer.id, &report)?;
        Ok(report)
    }

    /// The products report's "matched": each product listed as eligible counts once per
    /// customer and day, for the user who asked (`store::report_keys::on_matched`). A repeat
    /// look the same day writes nothing.
    fn count_matched(&self, caller: &Caller, customer: &str, report: &MatchReport) -> Result<()> {
        let eligible: Vec<&str> = report
            .items
            .iter()
            .filter(|m| m.status == Status::Eligible)
            .map(|m| m.product_id.as_str())
            .collect();
        if eligible.is_empty() {
            return Ok(());
        }
        let day = crate::service::pools::day_key(self.now());
        let done = self
            .store
            .read(|tx| store::report_keys::matched_already(tx, &day, customer, &eligible))?;
        if !done {
            self.store.write(|tx| {
                store::report_keys::on_matched(tx, &day, customer, &caller.user.id, &eligible)
            })?;
        }
        Ok(())
    }

    pub(crate) fn match_products(
        &self,
        c: &Customer,
        age: Option<u32>,
        born: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
        products: &[Product],
    ) -> Result<MatchReport> {
        let applicant = Applicant {
            age,
            born,
            city: c.city.as_deref(),
            profile: &c.profile,
            demand: &c.demand,
        };
        let today = self
            .now()
            .with_timezone(&crate::service::customers::shanghai())
            .date_naive();
        // The estimate's first payment: a month from today, on a day every month has.
        let first_date = today
            .checked_add_days(Days::new(31))
            .and_then(|d| d.with_day(d.day().min(28)))
            .ok_or_else(|| Error::Internal("date out of range".into()))?;
        let now = self.now();
        let mut items = Vec::new();
        let mut plugin_error = None;
        for p in products.iter().filter(|p| p.terms.active) {
            let mut d: Decision = matching::evaluate(&p.terms.requirements, &applicant);
            let mut m = ProductMatch {
                product_id: p.id.clone(),
                name: p.terms.name.clone(),
                lender: p.terms.lender.clone(),
                category: p.terms.category,
                status: d.status,
                near_miss: d.near_miss().cloned(),
                failures: vec![],
                missing: vec![],
                estimate: None,
                score: 0,
                notes: vec![],
            };
            if d.status != Status::Ineligible {
                let no_schedule =
                    || Error::Internal(format!("product {}: terms give no schedule", p.id));
                let estimate =
                    matching::estimate(&p.terms, &c.demand, first_date).ok_or_else(no_schedule)?;
                let input = ScoreInput {
                    customer: c,
                    product: p,
                    age,
                    status: if d.status == Status::Eligible {
                        "eligible"
                    } else {
                        "needs_info"
                    },
                    missing: d.missing.iter().map(|f| f.field).collect(),
                    estimate: &estimate,
                    now,
                };
                let mut estimate = estimate.clone();
                match self.plugins.score(&input) {
                    Ok(s) => {
                        m.score = s.score;
                        m.notes.extend(s.note);
                        if let Some(reason) = s.refused {
                            d.failures.push(Finding {
                                field: "plugin",
                                reason,
                                hint: None,
                                gap: None,
                            });
                            m.status = Status::Ineligible;
                        } else if let Some(cap) = s.amount_max_fen
                            && cap < estimate.amount_fen
                        {
                            let capped = Demand {
                                amount_fen: Some(cap),
                                term_months: Some(estimate.term_months),
                                purpose: None,
                            };
                            estimate = matching::estimate(&p.terms, &capped, first_date)
                                .ok_or_else(no_schedule)?;
                        }
                    }
                    Err(e) => {
                        // Recorded once per match, not once per product.
                        if plugin_error.is_none() {
                            self.plugins.record_failure(SCORE, &e, Some(&c.id), now);
                            plugin_error = Some(e.to_string());
                        }
                    }
                }
                if m.status != Status::Ineligible {
                    m.estimate = Some(estimate);
                }
            }
            m.failures = d.failures;
            m.missing = d.missing;
            items.push(m);
        }
        items.sort_by(|a, b| rank(a).cmp(&rank(b)));
        let count = |s: Status| items.iter().filter(|m| m.status == s).count();
        Ok(MatchReport {
            customer_id: c.id.clone(),
            eligible: count(Status::Eligible),
            needs_info: count(Status::NeedsInfo),
            ineligible: count(Status::Ineligible),
            items,
            plugin_error,
        })
    }
}
