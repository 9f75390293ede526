//! The customer list's filters and sort orders, in one place: the list, saved views, bulk
//! selection and the export all use [`CustomerFilter::matches`].

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::customer::{Customer, Stage};
use crate::search::fields::stage_key;
use crate::search::{ListFilters, ListRequest, ListSort, Restrict};
use crate::service::customers::shanghai;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueFilter {
    /// Next follow-up falls on today (Asia/Shanghai).
    Today,
    /// Next follow-up was due before today.
    Overdue,
    /// No next follow-up planned.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Whose {
    /// Customers I own (我负责的).
    Mine,
    /// Customers in my scope owned by someone else (下属负责的).
    Team,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Sort {
    #[serde(rename = "created_at")]
    CreatedAt,
    #[default]
    #[serde(rename = "-created_at")]
    CreatedAtDesc,
    #[serde(rename = "updated_at")]
    UpdatedAt,
    #[serde(rename = "-updated_at")]
    UpdatedAtDesc,
    /// Soonest first; customers without a next follow-up last.
    #[serde(rename = "next_followup_at")]
    NextFollowupAt,
    #[serde(rename = "name")]
    Name,
}

#[derive(
    Debug, Default, Clone, PartialEq, Serialize, Deserialize, utoipa::IntoParams, utoipa::ToSchema,
)]
#[into_params(parameter_in = Query)]
pub struct CustomerFilter {
    /// Full-text search through the search index (name fragments, pinyin, phone last 4, …;
    /// see `GET /search`). Results keep the search ranking unless `sort` is given; at most
    /// the best 5,000 matches are listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    pub stage: Option<Stage>,
    pub grade: Option<String>,
    /// Any of these tags: `tag=a&tag=b` or `tag=a,b`.
    pub tag: Option<String>,
    pub owner: Option<String>,
    pub channel: Option<String>,
    /// Created on or after this day (Asia/Shanghai).
    pub created_from: Option<NaiveDate>,
    /// Created on or before this day (Asia/Shanghai).
    pub created_to: Option<NaiveDate>,
    #[param(inline)]
    pub due: Option<DueFilter>,
    /// Only records flagged as possible duplicates (or only unflagged ones with `false`).
    pub flagged: Option<bool>,
    #[param(inline)]
    pub whose: Option<Whose>,
    /// `created_at`, `-created_at` (default: newest first), `updated_at`, `-updated_at`,
    /// `next_followup_at`, `name`.
    #[param(inline)]
    pub sort: Option<Sort>,
    /// The id of the last customer of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// 1–200, default 50.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// What a filter is evaluated against besides the record: who asks and when.
pub struct FilterContext {
    pub me: String,
    today_start: DateTime<Utc>,
}

/// The UTC instant a Shanghai calendar day starts.
pub fn day_start(d: NaiveDate) -> DateTime<Utc> {
    let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    DateTime::<Utc>::from_naive_utc_and_offset(midnight - Duration::hours(8), Utc)
}

impl FilterContext {
    pub fn new(me: &str, now: DateTime<Utc>) -> FilterContext {
        FilterContext {
            me: me.to_string(),
            today_start: day_start(now.with_timezone(&shanghai()).date_naive()),
        }
    }
}

impl CustomerFilter {
    /// The tags asked for (any of them matches).
    pub fn tags(&self) -> Vec<&str> {
        self.tag
            .as_deref()
            .unwrap_or("")
            .split([',', '，'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// The field filters (scope and the recycle bin are the caller's business).
    pub fn matches(&self, c: &Customer, ctx: &FilterContext) -> bool {
        let tags = self.tags();
        let eq = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        let due = match self.due {
            None => true,
            Some(DueFilter::None) => c.next_followup_at.is_none(),
            Some(DueFilter::Today) => c
                .next_followup_at
                .is_some_and(|t| t >= ctx.today_start && t < ctx.today_start + Duration::days(1)),
            Some(DueFilter::Overdue) => c.next_followup_at.is_some_and(|t| t < ctx.today_start),
        };
        let whose = match self.whose {
            None => true,
            Some(Whose::Mine) => c.owner_id.as_deref() == Some(ctx.me.as_str()),
            Some(Whose::Team) => c.owner_id.as_deref().is_some_and(|o| o != ctx.me),
        };
        self.stage.is_none_or(|s| c.stage == s)
            && eq(&self.grade, &c.grade)
            && (tags.is_empty() || tags.iter().any(|t| c.tags.iter().any(|h| h == t)))
            && eq(&self.owner, &c.owner_id)
            && eq(&self.channel, &c.channel)
            && self
                .created_from
                .is_none_or(|d| c.created_at >= day_start(d))
            && self
                .created_to
                .is_none_or(|d| c.created_at < day_start(d) + Duration::days(1))
            && due
            && self.flagged.is_none_or(|f| c.duplicate_flag == f)
            && whose
    }

    /// The key a record sorts by under this filter's order (ascending; reversed for the
    /// descending orders by [`Sort::descending`]). Ties are broken by id.
    pub fn sort_key(&self, c: &Customer) -> String {
        let ts = |t: DateTime<Utc>| t.format("%Y%m%d%H%M%S%6f").to_string();
        match self.sort.unwrap_or_default() {
            Sort::CreatedAt | Sort::CreatedAtDesc => c.id.clone(),
            Sort::UpdatedAt | Sort::UpdatedAtDesc => format!("{}/{}", ts(c.updated_at), c.id),
            Sort::NextFollowupAt => match c.next_followup_at {
                Some(t) => format!("0{}/{}", ts(t), c.id),
                None => format!("1/{}", c.id),
            },
            Sort::Name => format!("{}\u{0}{}", c.name, c.id),
        }
    }
}

impl FilterContext {
    /// When today (Asia/Shanghai) started.
    pub fn today_start(&self) -> DateTime<Utc> {
        self.today_start
    }
}

/// The same filter and order as [`CustomerFilter::matches`] and [`CustomerFilter::sort_key`],
/// as an index request (`q` aside: the caller handles it).
pub fn list_request(
    f: &CustomerFilter,
    ctx: &FilterContext,
    restrict: Restrict,
    limit: usize,
) -> ListRequest {
    let day_after = |d: NaiveDate| day_start(d) + Duration::days(1);
    let today = ctx.today_start;
    let (next_from, next_before, no_next) = match f.due {
        None => (None, None, false),
        Some(DueFilter::Today) => (
            Some(today.timestamp_micros()),
            Some((today + Duration::days(1)).timestamp_micros()),
            false,
        ),
        Some(DueFilter::Overdue) => (None, Some(today.timestamp_micros()), false),
        Some(DueFilter::None) => (None, None, true),
    };
    let sort = f.sort.unwrap_or_default();
    ListRequest {
        restrict,
        filters: ListFilters {
            stage: f.stage.map(stage_key),
            grade: f.grade.clone(),
            tags: f.tags().into_iter().map(str::to_string).collect(),
            owner: f.owner.clone(),
            channel: f.channel.clone(),
            city: None,
            created_from: f.created_from.map(|d| day_start(d).timestamp()),
            created_before: f.created_to.map(|d| day_after(d).timestamp()),
            next_from,
            next_before,
            no_next,
            flagged: f.flagged,
            owned_by: (f.whose == Some(Whose::Mine)).then(|| ctx.me.clone()),
            owned_by_other_than: (f.whose == Some(Whose::Team)).then(|| ctx.me.clone()),
        },
        sort: match sort {
            Sort::CreatedAt | Sort::CreatedAtDesc => ListSort::Id,
            Sort::UpdatedAt | Sort::UpdatedAtDesc => ListSort::Updated,
            Sort::NextFollowupAt => ListSort::NextFollowup,
            Sort::Name => ListSort::Name,
        },
        descending: sort.descending(),
        cursor: f.cursor.clone(),
        cursor_may_leave: false,
        limit,
    }
}

impl Sort {
    pub fn descending(self) -> bool {
        matches!(self, Sort::CreatedAtDesc | Sort::UpdatedAtDesc)
    }
}

/// Rewrites a raw query string so repeated `tag=` parameters become one comma list
/// (`tag=a&tag=b` → `tag=a%2Cb`), which the plain query extractor then reads.
pub fn merge_repeated_tags(raw: &str) -> String {
    let mut tags = Vec::new();
    let mut rest = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        match part.strip_prefix("tag=") {
            Some(v) if !v.is_empty() => tags.push(v),
            Some(_) => {}
            None => rest.push(part.to_string()),
        }
    }
    if !tags.is_empty() {
        rest.push(format!("tag={}", tags.join("%2C")));
    }
    rest.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_tags_become_one_list() {
        assert_eq!(
            merge_repeated_tags("tag=a&stage=lead&tag=b"),
            "stage=lead&tag=a%2Cb"
        );
        assert_eq!(merge_repeated_tags("limit=5"), "limit=5");
    }

    #[test]
    fn days_start_at_shanghai_midnight() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default();
        assert_eq!(day_start(d).to_rfc3339(), "2026-11-25T16:00:00+00:00");
    }
}
