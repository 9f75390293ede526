//! Monthly targets (业绩目标) per user and per department: fees received (fen), amount
//! disbursed (fen), deals signed, follow-ups. No I/O: the progress of an actual against a
//! target, in basis points of the target (10 000 = 100%), rounded down.

use serde::{Deserialize, Serialize};

/// A month's target; an absent measure is not targeted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    pub fees_fen: Option<i64>,
    pub disbursed_fen: Option<i64>,
    pub deals_signed: Option<i64>,
    pub followups: Option<i64>,
}

impl Target {
    /// Every measure ≥ 0; the name of the first that is not.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        for (field, v) in [
            ("fees_fen", self.fees_fen),
            ("disbursed_fen", self.disbursed_fen),
            ("deals_signed", self.deals_signed),
            ("followups", self.followups),
        ] {
            if v.is_some_and(|v| v < 0) {
                return Err((field, "目标不能为负数".into()));
            }
        }
        Ok(())
    }
}

/// What was achieved in a month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actual {
    pub fees_fen: i64,
    pub disbursed_fen: i64,
    pub deals_signed: i64,
    pub followups: i64,
}

impl Actual {
    pub fn add(&mut self, o: &Actual) {
        self.fees_fen += o.fees_fen;
        self.disbursed_fen += o.disbursed_fen;
        self.deals_signed += o.deals_signed;
        self.followups += o.followups;
    }
}

/// Progress per measure in basis points of the target (rounded down; `None`: no target, or a
/// target of 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    pub fees_bp: Option<i64>,
    pub disbursed_bp: Option<i64>,
    pub deals_signed_bp: Option<i64>,
    pub followups_bp: Option<i64>,
}

fn bp(actual: i64, target: Option<i64>) -> Option<i64> {
    let t = target.filter(|t| *t > 0)?;
    i64::try_from(i128::from(actual.max(0)) * 10_000 / i128::from(t)).ok()
}

pub fn progress(t: &Target, a: &Actual) -> Progress {
    Progress {
        fees_bp: bp(a.fees_fen, t.fees_fen),
        disbursed_bp: bp(a.disbursed_fen, t.disbursed_fen),
        deals_signed_bp: bp(a.deals_signed, t.deals_signed),
        followups_bp: bp(a.followups, t.followups),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_basis_points_of_the_target_rounded_down() {
        let t = Target {
            fees_fen: Some(3_000_000),
            disbursed_fen: None,
            deals_signed: Some(3),
            followups: Some(0),
        };
        let a = Actual {
            fees_fen: 1_000_000,
            disbursed_fen: 5,
            deals_signed: 4,
            followups: 7,
        };
        let p = progress(&t, &a);
        assert_eq!(p.fees_bp, Some(3_333), "33.33%, rounded down");
        assert_eq!(p.disbursed_bp, None, "no target");
        assert_eq!(p.deals_signed_bp, Some(13_333), "above target");
        assert_eq!(p.followups_bp, None, "a target of 0 has no progress");
        let neg = Actual {
            fees_fen: -5,
            ..Actual::default()
        };
        assert_eq!(
            progress(&t, &neg).fees_bp,
            Some(0),
            "refunds beyond receipts: 0"
        );
        assert_eq!(
            Target {
                followups: Some(-1),
                ..Target::default()
            }
            .check()
            .unwrap_err()
            .0,
            "followups"
        );
    }
}
