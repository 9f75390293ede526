//! Issue 18.7: `customers::put` and `put_many` build only the placement keys (owner, bin, pool
//! page) when the found keys' inputs (id, phones' blind indexes, ID number, name) did not
//! change, and skip the lead-check keys when the phones did not. Whatever changes — a phone,
//! an extra phone, the ID number, the name, the owner, the pool, deletion — the customer keys
//! and lead-check keys must stay exactly what the records call for (`key_drift`,
//! `leads::drift`).

use std::sync::Arc;

use zhudai::config::Config;
use zhudai::domain::customer::Customer;
use zhudai::service::ManualClock;
use zhudai::store::{customers, leads};

use crate::common;

/// Each step changes some customers into new versions; the keys are checked after each.
type Step = fn(&mut Customer, &Customer);

fn no_drift(app: &zhudai::service::App, what: &str) {
    let (keys, leads) = app
        .store
        .read(|tx| {
            Ok::<_, zhudai::store::Error>((customers::key_drift(tx, 20)?, leads::drift(tx)?))
        })
        .unwrap();
    assert!(keys.is_empty(), "{what}: customer keys drifted: {keys:?}");
    assert!(
        leads.is_empty(),
        "{what}: lead-check keys drifted: {leads:?}"
    );
}

#[test]
fn keys_follow_every_change_whether_one_or_many_customers_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(common::epoch()));
    let app = zhudai::open_app(dir.path(), Config::defaults().unwrap(), clock).unwrap();
    common::set_up_admin(&app);
    let now = app.now();
    let owners = ["01JA0000000000000000000001", "01JA0000000000000000000002"];
    let mut synth = zhudai::synth::Generator::new(7, now);
    let mut records: Vec<Customer> = (0..12)
        .map(|i| {
            let s = synth.customer();
            app.platform()
                .demo_record(&s, Some(owners[i % 2].to_string()), "test")
                .unwrap()
        })
        .collect();
    // Sealed values to move around: other customers' phones and ID numbers.
    let donors: Vec<Customer> = (0..4)
        .map(|_| {
            let s = synth.customer();
            app.platform().demo_record(&s, None, "test").unwrap()
        })
        .collect();
    app.store
        .write(|tx| {
            for c in &records {
                customers::put(tx, None, c)?;
            }
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    no_drift(&app, "created");

    let steps: Vec<(&str, Step)> = vec![
        ("recalled into a pool (placement only)", |c, _| {
            c.previous_owner_id = c.owner_id.take();
            c.pool_id = Some("01JB0000000000000000000001".into());
        }),
        ("claimed by another owner", |c, _| {
            c.owner_id = Some("01JA0000000000000000000003".into());
            c.pool_id = None;
        }),
        ("phone changed", |c, d| c.phone = d.phone.clone()),
        ("an extra phone added", |c, d| {
            c.extra_phones.push(d.phone.clone())
        }),
        ("the extra phone's lead index changed", |c, _| {
            if let Some(p) = c.extra_phones.first_mut() {
                p.lead = "00112233445566778899aabbccddeeff".into();
            }
        }),
        ("the extra phone removed", |c, _| c.extra_phones.clear()),
        ("ID number set", |c, d| {
            c.id_number = d.id_number.clone().or_else(|| Some(d.phone.clone()))
        }),
        ("ID number removed", |c, _| c.id_number = None),
        ("renamed", |c, d| c.name = d.name.clone()),
        ("renamed and moved to a pool at once", |c, d| {
            c.name = format!("{}二", d.name);
            c.owner_id = None;
            c.pool_id = Some("01JB0000000000000000000002".into());
        }),
        ("deleted", |c, _| c.deleted_at = Some(c.updated_at)),
        ("restored to an owner", |c, _| {
            c.deleted_at = None;
            c.owner_id = Some("01JA0000000000000000000001".into());
            c.pool_id = None;
        }),
        ("phone erased", |c, _| {
            c.phone.bidx.clear();
            c.phone.lead.clear();
        }),
    ];
    for (k, (what, step)) in steps.into_iter().enumerate() {
        let changed: Vec<(Customer, Customer)> = records
            .iter()
            .enumerate()
            .map(|(i, before)| {
                let mut c = before.clone();
                step(&mut c, &donors[(i + k) % donors.len()]);
                (before.clone(), c)
            })
            .collect();
        // Half the customers one `put` at a time, the other half in one `put_many`.
        let (one, many) = changed.split_at(changed.len() / 2);
        app.store
            .write(|tx| {
                for (before, c) in one {
                    customers::put(tx, Some(before), c)?;
                }
                let pairs: Vec<(&Customer, &Customer)> = many.iter().map(|(b, c)| (b, c)).collect();
                customers::put_many(tx, &pairs)
            })
            .unwrap();
        no_drift(&app, what);
        records = changed.into_iter().map(|(_, c)| c).collect();
    }
}
