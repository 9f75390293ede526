#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use chrono::NaiveDate;

use super::DealStage::{self, *};
use super::*;

/// Every (from, to) pair the pipeline allows; every other pair is refused.
const ALLOWED: &[(DealStage, DealStage)] = &[
    (Invited, Visited),
    (Invited, Signed),
    (Invited, Withdrawn),
    (Visited, Signed),
    (Visited, Withdrawn),
    (Signed, Submitted),
    (Signed, Withdrawn),
    (Submitted, Approved),
    (Submitted, Rejected),
    (Submitted, Withdrawn),
    (Approved, Disbursed),
    (Approved, Rejected),
    (Approved, Withdrawn),
    (Disbursed, FeeCollected),
];

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Everything any stage needs, so only the pipeline decides.
fn full() -> StageFields {
    StageFields {
        approved_amount_fen: Some(10_000_000),
        disbursed_amount_fen: Some(10_000_000),
        disbursed_on: Some(date("2026-12-01")),
        rate_bp: Some(1_200),
        term_months: Some(12),
        method: Some(Method::Annuity),
        first_repayment_date: Some(date("2027-01-01")),
        reason: Some("客户原因".into()),
        override_contract: true,
        ..StageFields::default()
    }
}

#[test]
fn every_pair_of_stages_is_allowed_or_refused_as_the_table_says() {
    for from in DealStage::ALL {
        for to in DealStage::ALL {
            let expected = ALLOWED.contains(&(from, to));
            assert_eq!(move_allowed(from, to), expected, "{from:?} → {to:?}");
            let decided = check_move(from, to, &full(), None, false, true);
            match decided {
                Ok(_) => assert!(expected, "{from:?} → {to:?} accepted"),
                Err(Refusal::Illegal(why)) => {
                    assert!(!expected, "{from:?} → {to:?} refused: {why}");
                    assert!(
                        why.contains(from.label()) || why.contains(to.label()),
                        "the refusal names the stages: {why}"
                    );
                }
                Err(other) => panic!("{from:?} → {to:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn next_stages_lists_the_allowed_targets() {
    assert_eq!(next_stages(Invited), vec![Visited, Signed, Withdrawn]);
    assert_eq!(next_stages(Approved), vec![Disbursed, Rejected, Withdrawn]);
    for s in [FeeCollected, Rejected, Withdrawn] {
        assert!(next_stages(s).is_empty(), "{s:?} is terminal");
    }
}

fn refused_field(r: Result<Accepted, Refusal>) -> &'static str {
    match r {
        Err(Refusal::Field(f, why)) => {
            assert!(!why.is_empty());
            f
        }
        other => panic!("expected a field refusal, got {other:?}"),
    }
}

#[test]
fn approved_needs_the_approved_amount_term_and_rate_optional() {
    let none = StageFields::default();
    assert_eq!(
        refused_field(check_move(Submitted, Approved, &none, None, false, false)),
        "approved_amount_fen"
    );
    let bad = StageFields {
        approved_amount_fen: Some(0),
        ..StageFields::default()
    };
    assert_eq!(
        refused_field(check_move(Submitted, Approved, &bad, None, false, false)),
        "approved_amount_fen"
    );
    let bad_term = StageFields {
        approved_amount_fen: Some(1),
        approved_term_months: Some(601),
        ..StageFields::default()
    };
    assert_eq!(
        refused_field(check_move(
            Submitted, Approved, &bad_term, None, false, false
        )),
        "approved_term_months"
    );
    let ok = StageFields {
        approved_amount_fen: Some(5_000_000),
        ..StageFields::default()
    };
    let a = check_move(Submitted, Approved, &ok, None, false, false).unwrap();
    assert_eq!(
        a.approval,
        Some(Approval {
            amount_fen: 5_000_000,
            term_months: None,
            rate_bp: None
        })
    );
}

#[test]
fn disbursed_needs_amount_date_and_every_loan_term() {
    let approval = Approval {
        amount_fen: 10_000_000,
        term_months: None,
        rate_bp: None,
    };
    let fields = [
        "disbursed_amount_fen",
        "disbursed_on",
        "rate_bp",
        "term_months",
        "method",
        "first_repayment_date",
    ];
    for missing in fields {
        let mut f = full();
        match missing {
            "disbursed_amount_fen" => f.disbursed_amount_fen = None,
            "disbursed_on" => f.disbursed_on = None,
            "rate_bp" => f.rate_bp = None,
            "term_months" => f.term_months = None,
            "method" => f.method = None,
            _ => f.first_repayment_date = None,
        }
        assert_eq!(
            refused_field(check_move(
                Approved,
                Disbursed,
                &f,
                Some(&approval),
                false,
                false
            )),
            missing
        );
    }
    let mut over = full();
    over.disbursed_amount_fen = Some(10_000_001);
    assert_eq!(
        refused_field(check_move(
            Approved,
            Disbursed,
            &over,
            Some(&approval),
            false,
            false
        )),
        "disbursed_amount_fen",
        "never more than approved"
    );
    let mut early = full();
    early.first_repayment_date = Some(date("2026-12-01"));
    assert_eq!(
        refused_field(check_move(
            Approved,
            Disbursed,
            &early,
            Some(&approval),
            false,
            false
        )),
        "first_repayment_date"
    );
    let mut bad_rate = full();
    bad_rate.rate_bp = Some(100_001);
    assert_eq!(
        refused_field(check_move(
            Approved,
            Disbursed,
            &bad_rate,
            Some(&approval),
            false,
            false
        )),
        "rate_bp"
    );
    let a = check_move(Approved, Disbursed, &full(), Some(&approval), false, false).unwrap();
    let d = a.disbursement.unwrap();
    assert_eq!((d.amount_fen, d.term_months), (10_000_000, 12));
}

#[test]
fn signed_needs_a_contract_or_a_managers_override_with_a_reason() {
    let plain = StageFields::default();
    assert_eq!(
        check_move(Visited, Signed, &plain, None, false, true).unwrap_err(),
        Refusal::ContractRequired
    );
    assert!(check_move(Visited, Signed, &plain, None, true, false).is_ok());
    let asked = StageFields {
        override_contract: true,
        reason: Some("合同原件已收，系统补录".into()),
        ..StageFields::default()
    };
    assert_eq!(
        check_move(Visited, Signed, &asked, None, false, false).unwrap_err(),
        Refusal::OverrideForbidden
    );
    let a = check_move(Visited, Signed, &asked, None, false, true).unwrap();
    assert_eq!(a.override_reason.as_deref(), Some("合同原件已收，系统补录"));
    let no_reason = StageFields {
        override_contract: true,
        reason: Some("  ".into()),
        ..StageFields::default()
    };
    assert_eq!(
        refused_field(check_move(Invited, Signed, &no_reason, None, false, true)),
        "reason"
    );
}

#[test]
fn rejected_and_withdrawn_need_a_reason() {
    for (from, to) in [(Submitted, Rejected), (Invited, Withdrawn)] {
        assert_eq!(
            refused_field(check_move(
                from,
                to,
                &StageFields::default(),
                None,
                false,
                false
            )),
            "reason"
        );
        let f = StageFields {
            reason: Some("征信不符".into()),
            ..StageFields::default()
        };
        let a = check_move(from, to, &f, None, false, false).unwrap();
        assert_eq!(a.reason.as_deref(), Some("征信不符"));
    }
    let long = StageFields {
        reason: Some("长".repeat(201)),
        ..StageFields::default()
    };
    assert_eq!(
        refused_field(check_move(Invited, Withdrawn, &long, None, false, false)),
        "reason"
    );
}

#[test]
fn stages_without_fields_move_freely() {
    for (from, to) in [
        (Invited, Visited),
        (Signed, Submitted),
        (Disbursed, FeeCollected),
    ] {
        assert!(check_move(from, to, &StageFields::default(), None, false, false).is_ok());
    }
}

#[test]
fn the_customer_follows_the_most_advanced_open_deal() {
    use crate::domain::customer::Stage as C;
    assert_eq!(customer_stage_of([]), None);
    assert_eq!(customer_stage_of([Rejected, Withdrawn]), None);
    assert_eq!(customer_stage_of([Invited]), Some(C::Invited));
    assert_eq!(customer_stage_of([Visited, Invited]), Some(C::Visited));
    for s in [Signed, Submitted, Approved] {
        assert_eq!(customer_stage_of([Invited, s, Rejected]), Some(C::Signed));
    }
    for s in [Disbursed, FeeCollected] {
        assert_eq!(customer_stage_of([s, Approved]), Some(C::Won));
    }
}

#[test]
fn past_submitted_is_approved_disbursed_or_collected() {
    let past: Vec<DealStage> = DealStage::ALL
        .into_iter()
        .filter(|s| s.past_submitted())
        .collect();
    assert_eq!(past, vec![Approved, Disbursed, FeeCollected]);
    assert_eq!(
        most_advanced_open([Approved, Rejected, Invited]),
        Some(Approved)
    );
    assert_eq!(most_advanced_open([Withdrawn]), None);
}

#[test]
fn stage_keys_are_the_json_names() {
    for s in DealStage::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.key());
        assert_eq!(DealStage::from_key(s.key()), Some(s));
    }
}

#[test]
fn the_service_fee_is_fixed_or_a_rate_of_the_disbursed_amount() {
    let mut p = ProductSnapshot {
        id: "p".into(),
        name: "工薪贷".into(),
        lender: "某银行".into(),
        category: Category::Credit,
        version: 1,
        service_fee: None,
        rebate_bp: None,
    };
    assert_eq!(p.service_fee_fen(10_000_000), 0);
    p.service_fee = Some(ServiceFee::Rate { bp: 300 });
    assert_eq!(p.service_fee_fen(10_000_000), 300_000);
    assert_eq!(p.service_fee_fen(50), 2, "1.5 fen rounds half-up");
    p.service_fee = Some(ServiceFee::Fixed { fen: 200_000 });
    assert_eq!(p.service_fee_fen(10_000_000), 200_000);
}

fn running(method: Method, first: &str, months: u32) -> Deal {
    let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    Deal {
        id: "d".into(),
        customer_id: "c".into(),
        customer_name: "客户".into(),
        product: ProductSnapshot {
            id: "p".into(),
            name: "产品".into(),
            lender: "银行".into(),
            category: crate::domain::product::Category::Credit,
            version: 1,
            service_fee: None,
            rebate_bp: None,
        },
        amount_fen: 1_000_000,
        term_months: months,
        officer_id: "u".into(),
        assistant_id: None,
        stage: DealStage::Disbursed,
        approval: None,
        disbursement: Some(Disbursement {
            amount_fen: 1_000_000,
            disbursed_on: date("2026-12-01"),
            rate_bp: 1200,
            term_months: months,
            method,
            first_repayment_date: date(first),
        }),
        closed_reason: None,
        history: vec![],
        created_by: "u".into(),
        broker_id: None,
        created_at: at,
        updated_at: at,
    }
}

#[test]
fn a_running_loan_reminds_before_its_first_payment_renewal_and_maturity() {
    let d = running(Method::Annuity, "2027-01-31", 12);
    assert_eq!(
        service_dates(&d),
        vec![
            (
                date("2027-01-28"),
                ServiceKind::FirstPayment,
                date("2027-01-31")
            ),
            // The 12th period ends 2027-12-31; two months before, a renewal.
            (date("2027-10-31"), ServiceKind::Renewal, date("2027-12-31")),
            (
                date("2027-12-24"),
                ServiceKind::Maturity,
                date("2027-12-31")
            ),
        ]
    );
    // A bullet loan pays once, at maturity.
    let b = running(Method::Bullet, "2027-01-31", 6);
    assert_eq!(
        service_dates(&b)
            .iter()
            .map(|(_, k, on)| (*k, *on))
            .collect::<Vec<_>>(),
        vec![
            (ServiceKind::Renewal, date("2027-06-30")),
            (ServiceKind::Maturity, date("2027-06-30"))
        ]
    );
    // Not running (approved, or closed): nothing.
    let mut closed = d.clone();
    closed.stage = DealStage::Approved;
    assert!(service_dates(&closed).is_empty());
}
