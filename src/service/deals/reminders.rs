//! Service reminders of running loans (贷后提醒, issue 16.8): a disbursed deal's calendar gives
//! its officer a reminder before the first repayment, a renewal opportunity two months before
//! maturity and the maturity itself. Kept as keys of the deal (`rm:<officer>/<day>/…`, written
//! with it), so the list is a range read of the officer's own keys, never a scan of the deals.

use chrono::Days;
use serde::{Deserialize, Serialize};

use crate::domain::capability::Capability;
use crate::domain::deal::{self, ServiceKind};
use crate::service::access::auth::Caller;
use crate::service::customers::shanghai;
use crate::service::{Error, Result};
use crate::store;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceDue {
    /// Reminded today or in the last 7 days, for a date not yet past.
    #[default]
    Today,
    /// To be reminded in the next 7 days.
    Week,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceQuery {
    #[param(inline)]
    pub due: Option<ServiceDue>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceReminder {
    pub deal_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub product: String,
    pub kind: ServiceKind,
    /// The date it is about (the first repayment, the maturity).
    pub date: chrono::NaiveDate,
    pub remind_on: chrono::NaiveDate,
    pub amount_fen: i64,
}

impl crate::service::deals::UseCases<'_> {
    /// My service reminders (as the officer of the deals).
    pub fn service_reminders(
        &self,
        caller: &Caller,
        q: &ServiceQuery,
    ) -> Result<Vec<ServiceReminder>> {
        caller.require(Capability::DealRead)?;
        let today = self.now().with_timezone(&shanghai()).date_naive();
        let day = |n: u64, forward: bool| {
            if forward {
                today.checked_add_days(Days::new(n))
            } else {
                today.checked_sub_days(Days::new(n))
            }
            .ok_or_else(|| Error::Internal("date out of range".into()))
        };
        let (from, to) = match q.due.unwrap_or_default() {
            ServiceDue::Today => (day(7, false)?, today),
            ServiceDue::Week => (day(1, true)?, day(7, true)?),
        };
        let me = caller.user.id.as_str();
        let scope = self.scope_of(caller)?;
        self.store.read(|tx| {
            // My own deals: always in my scope.
            let deals = store::deals::Reader::scoped(tx, &scope);
            let mut out = Vec::new();
            for (_, kind, id) in store::deals::reminders(tx, me, from, to)? {
                let Some(d) = deals.get(&id)? else {
                    return Err(Error::Internal(format!(
                        "reminder key of a missing deal {id}"
                    )));
                };
                let kind = ServiceKind::from_key(&kind).ok_or_else(|| {
                    Error::Internal(format!("deal {id}: unknown reminder kind {kind}"))
                })?;
                for (on, k, date) in deal::service_dates(&d) {
                    // Past dates drop out of "today"; the key and the deal agree by construction.
                    if k == kind && on >= from && on <= to && date >= today {
                        out.push(ServiceReminder {
                            deal_id: d.id.clone(),
                            customer_id: d.customer_id.clone(),
                            customer_name: d.customer_name.clone(),
                            product: d.product.name.clone(),
                            kind,
                            date,
                            remind_on: on,
                            amount_fen: d
                                .disbursement
                                .as_ref()
                                .map_or(d.amount_fen, |x| x.amount_fen),
                        });
                    }
                }
            }
            Ok(out)
        })
    }
}
