//! Synthetic data written through the store, for `zhudai demo`, benchmarks and trials.

use crate::domain::customer::{self, Credit, Customer, CustomerInput, Demand, Occupation, Profile};
use crate::domain::org::{User, UserStatus};
use crate::service::{Error, Result, access::password, new_id};
use crate::store::users;
use crate::synth::{Generator, SynthCustomer};

/// The password of every synthetic staff account (printed by `zhudai demo`).
pub const DEMO_PASSWORD: &str = "zhudai-demo-2026";

impl crate::service::platform::UseCases<'_> {
    /// Adds `n` synthetic staff accounts (`staff0001`…; one manager per ten) in one
    /// transaction; existing usernames are skipped, so running it twice adds nothing.
    /// Returns how many were added.
    pub fn demo_staff(&self, n: u64, seed: u64) -> Result<u64> {
        let now = self.now();
        // One hash for all: hashing thousands of demo passwords would take minutes.
        let hash = password::hash(DEMO_PASSWORD)?;
        let mut generator = Generator::new(seed, now);
        self.store.write(|tx| {
            let mut added = 0;
            for i in 1..=n {
                let username = format!("staff{i:04}");
                let role = if i % 10 == 1 { "manager" } else { "sales" };
                let user = User {
                    id: new_id(now),
                    username,
                    display_name: generator.staff_name(),
                    password_hash: hash.clone(),
                    roles: vec![role.into()],
                    status: UserStatus::Active,
                    department_id: None,
                    manager_id: None,
                    phone_enc: None,
                    phone_bidx: None,
                    phone_masked: None,
                    extension: None,
                    broker: None,
                    must_change_password: false,
                    created_at: now,
                    updated_at: now,
                };
                match users::insert(tx, &user) {
                    Ok(()) => added += 1,
                    Err(crate::store::Error::Conflict(_)) => {}
                    Err(e) => return Err(Error::from(e)),
                }
            }
            Ok(added)
        })
    }

    /// A synthetic customer as `create_customer` builds it (validated; phone and ID number
    /// sealed under its new id), created at `s.created_at`. Nothing is written and there is no
    /// duplicate check or audit: benchmarks put such records through `store::customers::put`
    /// in large transactions.
    pub fn demo_record(
        &self,
        s: &SynthCustomer,
        owner_id: Option<String>,
        created_by: &str,
    ) -> Result<Customer> {
        let input = CustomerInput {
            name: Some(s.name.clone()),
            phone: Some(s.phone.clone()),
            extra_phones: Some(s.extra_phones.clone()),
            id_number: Some(s.id_number.clone()),
            city: Some(s.city.to_string()),
            address: Some(s.address.clone()),
            company: s.company.clone(),
            channel: Some(s.channel.to_string()),
            stage: serde_json::from_value(serde_json::Value::from(s.stage)).ok(),
            grade: Some(s.grade.to_string()),
            stars: Some(s.stars),
            intent: Some(s.intent.to_string()),
            tags: Some(s.tags.iter().map(|t| t.to_string()).collect()),
            demand: Some(Demand {
                amount_fen: Some(s.demand_amount_fen),
                term_months: Some(s.demand_term_months),
                purpose: Some(s.demand_purpose.to_string()),
            }),
            // The same profile `zhudai demo --csv` writes, so matching has something to read.
            profile: Some(Profile {
                occupation: Occupation::parse(s.occupation),
                monthly_income_fen: Some(s.monthly_income_fen),
                social_security_months: Some(s.social_security_months),
                provident_fund_months: Some(s.provident_fund_months),
                provident_fund_base_fen: Some(s.provident_fund_base_fen),
                has_property: Some(s.has_property),
                property_value_fen: s.has_property.then_some(s.property_value_fen),
                has_car: Some(s.has_car),
                credit: Credit {
                    overdue_count_2y: Some(s.overdue_count_2y),
                    inquiries_3m: Some(s.inquiries_3m),
                    inquiries_6m: Some(s.inquiries_6m),
                    existing_debt_fen: Some(s.existing_debt_fen),
                    ..Credit::default()
                },
                ..Profile::default()
            }),
            ..CustomerInput::default()
        };
        let now = self.now();
        let today = now
            .with_timezone(&crate::service::customers::shanghai())
            .date_naive();
        let checked =
            customer::check(&input, true, today).map_err(|(f, r)| Error::validation(f, r))?;
        let mut c = self
            .customers()
            .new_record(&input, checked, owner_id, created_by, now)?;
        c.created_at = s.created_at;
        c.updated_at = s.created_at;
        Ok(c)
    }
}
