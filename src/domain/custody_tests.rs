#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use super::*;
use DocStatus::*;

fn now() -> DateTime<Utc> {
    chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, 2, 0, 0).unwrap()
}

fn item_at(status: DocStatus) -> DocItem {
    let mut c = Checklist::from_documents("D", &["房产证".into()], "u1", now());
    let mut item = c.items.remove(0);
    item.status = status;
    item.holder = (status == LentOut).then(|| "银行张经理".to_string());
    item
}

fn mv(to: DocStatus) -> Move<'static> {
    Move {
        to,
        recipient: Some("银行张经理"),
        note: Some("说明"),
        by: "u1",
        by_name: "小王",
        now: now(),
    }
}

/// Every (from, to) pair: allowed exactly as the table in docs/documents.md says.
#[test]
fn every_move_is_allowed_or_refused_as_the_table_says() {
    let table = [
        (Pending, Received),
        (Received, LentOut),
        (Received, Returned),
        (Received, Lost),
        (LentOut, Received),
        (LentOut, Returned),
        (LentOut, Lost),
    ];
    for from in DocStatus::ALL {
        for to in DocStatus::ALL {
            let want = table.contains(&(from, to));
            assert_eq!(allowed(from, to), want, "{from:?} → {to:?}");
            let mut item = item_at(from);
            let got = apply(&mut item, &mv(to));
            if want {
                let h = got.unwrap();
                assert_eq!((h.from, h.to), (from, to));
                assert_eq!(item.status, to);
                assert_eq!(item.history.len(), 1);
            } else {
                let e = got.unwrap_err();
                assert_eq!(e, Refusal::Illegal { from, to });
                assert_eq!(e.code(), "document_move_illegal");
                assert!(e.message().contains(from.label()) && e.message().contains(to.label()));
                assert_eq!(item.status, from, "a refused move changes nothing");
                assert!(item.history.is_empty());
            }
        }
    }
}

#[test]
fn hand_overs_record_who_gave_and_who_received() {
    let mut item = item_at(Pending);
    let h = apply(
        &mut item,
        &Move {
            recipient: None,
            ..mv(Received)
        },
    )
    .unwrap();
    assert_eq!(
        (h.giver.as_deref(), h.receiver.as_deref()),
        (Some(BORROWER), Some("小王"))
    );
    assert_eq!(item.custodian_id.as_deref(), Some("u1"));
    assert_eq!(item.received_at, Some(now()));

    // Lent out needs the recipient.
    let e = apply(
        &mut item,
        &Move {
            recipient: Some("  "),
            ..mv(LentOut)
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), "validation");
    assert!(matches!(e, Refusal::Field("recipient", _)));
    let h = apply(&mut item, &mv(LentOut)).unwrap();
    assert_eq!(
        (h.giver.as_deref(), h.receiver.as_deref()),
        (Some("小王"), Some("银行张经理"))
    );
    assert_eq!(item.out_at, Some(now()));
    assert_eq!(item.holder.as_deref(), Some("银行张经理"));

    // Back from the lender: the lender's person gave it.
    let h = apply(
        &mut item,
        &Move {
            recipient: None,
            ..mv(Received)
        },
    )
    .unwrap();
    assert_eq!(
        (h.giver.as_deref(), h.receiver.as_deref()),
        (Some("银行张经理"), Some("小王"))
    );
    assert_eq!(item.out_at, None);

    let h = apply(
        &mut item,
        &Move {
            recipient: None,
            ..mv(Returned)
        },
    )
    .unwrap();
    assert_eq!(h.receiver.as_deref(), Some(BORROWER));
    assert_eq!(item.closed_at, Some(now()));
    assert_eq!(item.history.len(), 4);

    // Lost needs a note.
    let mut other = item_at(Received);
    let e = apply(
        &mut other,
        &Move {
            note: None,
            ..mv(Lost)
        },
    )
    .unwrap_err();
    assert!(matches!(e, Refusal::Field("note", _)));
}

#[test]
fn items_are_added_with_fresh_ids_and_checked_names() {
    let mut c = Checklist::from_documents("D", &["身份证".into(), "户口本".into()], "u1", now());
    assert_eq!(
        c.items
            .iter()
            .map(|i| (i.id.as_str(), i.from_product))
            .collect::<Vec<_>>(),
        [("i1", true), ("i2", true)]
    );
    assert_eq!(c.add("结婚证", "u1", now()).unwrap().id, "i3");
    assert_eq!(c.add("身份证", "u1", now()).unwrap_err().0, "name");
    assert_eq!(c.add(" ", "u1", now()).unwrap_err().0, "name");
    assert_eq!(c.add(&"长".repeat(41), "u1", now()).unwrap_err().0, "name");
    c.items.retain(|i| i.id != "i3");
    assert_eq!(
        c.add("离婚证", "u1", now()).unwrap().id,
        "i4",
        "ids are never reused"
    );
}

#[test]
fn overdue_counts_whole_days_after_going_out() {
    let out = now();
    assert!(!overdue(out, out + chrono::Duration::days(14), 14));
    assert!(overdue(
        out,
        out + chrono::Duration::days(14) + chrono::Duration::seconds(1),
        14
    ));
}

/// Names, recipients and file names are single lines without direction or invisible
/// characters (U+202E before `fdp.exe` shows it as `exe.pdf`); a note may break lines.
#[test]
fn names_are_plain_single_lines_and_notes_may_break_lines() {
    for bad in ["\u{202e}证产房", "户口\u{200b}本", "户口\n本"] {
        assert!(check_text("name", bad, 40, true).is_err(), "{bad:?}");
    }
    assert_eq!(
        check_text("name", " 房产证 ", 40, true),
        Ok(Some("房产证".to_string()))
    );
    assert!(check_note("note", "第一行\n第二行", 200).is_ok());
    assert!(check_note("note", "第一行\u{202e}", 200).is_err());
    let mut m = mv(LentOut);
    m.recipient = Some("\u{202e}行银");
    assert!(apply(&mut item_at(Received), &m).is_err());
}
