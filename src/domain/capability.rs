//! What a role can grant: capabilities (what a user may do) and field privileges (which masked
//! fields a user may see in full). Enums, so a misspelt capability does not compile; each
//! serialises as the stable string stored in roles and sent to the UI (`customer.read`).
//!
//! A role sent over HTTP naming an unknown string is refused (400, `field` = `capabilities` or
//! `field_privileges`) by [`strict_list`]. A role read back from the store is lenient instead:
//! see [`super::roles::drop_unknown_grants`].

use serde::{Deserialize, Deserializer, Serialize};

/// Something a role grants, named by a stable string.
pub trait Grant: Copy + Eq + 'static {
    /// Every value, in display order.
    const ALL: &'static [Self];
    /// The refusal of a string that names none, followed by the string.
    const UNKNOWN: &'static str;
    fn as_str(self) -> &'static str;
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|g| g.as_str() == s)
    }
}

macro_rules! grants {
    ($(#[$meta:meta])* $name:ident, $unknown:literal, { $($variant:ident = $s:literal,)* }) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            Serialize,
            Deserialize,
            utoipa::ToSchema,
        )]
        pub enum $name {
            $(#[serde(rename = $s)] $variant,)*
        }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable string (also the serde form).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s,)*
                }
            }
        }

        impl Grant for $name {
            const ALL: &'static [$name] = $name::ALL;
            const UNKNOWN: &'static str = $unknown;
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

grants!(
    /// Every capability a role can grant.
    Capability, "未知权限", {
        CustomerRead = "customer.read",
        CustomerCreate = "customer.create",
        CustomerEdit = "customer.edit",
        CustomerDelete = "customer.delete",
        CustomerTransfer = "customer.transfer",
        CustomerAssign = "customer.assign",
        CustomerExport = "customer.export",
        CustomerImport = "customer.import",
        PoolClaim = "pool.claim",
        PoolManage = "pool.manage",
        DealRead = "deal.read",
        DealCreate = "deal.create",
        DealEdit = "deal.edit",
        DealStage = "deal.stage",
        ProductManage = "product.manage",
        FinanceRead = "finance.read",
        FinanceEdit = "finance.edit",
        ReportView = "report.view",
        PluginManage = "plugin.manage",
        UserManage = "user.manage",
        AuditView = "audit.view",
        BackupRun = "backup.run",
        SettingsManage = "settings.manage",
        // The lead-vendor duplicate check (撞库): yes/no per number, nothing else. Only the
        // built-in admin role holds it; a firm grants it to an integration user's role.
        LeadCheck = "lead.check",
        CallIngest = "call.ingest",
        // A broker's referrals (经纪人报单): the built-in `broker` role holds it alone.
        ReferralSubmit = "referral.submit",
    }
);

grants!(
    /// Field privileges: who may see a sensitive field in full.
    FieldPrivilege, "未知字段权限", {
        PhoneViewFull = "phone.view_full",
        IdNumberViewFull = "id_number.view_full",
        // The phone of a customer the holder owns, one reveal at a time (counted, audited);
        // never in exports, never another owner's customer.
        PhoneViewOwn = "phone.view_own",
    }
);

/// A list of grants as sent over HTTP: every string must name one, else the whole field is
/// refused with "未知权限 <string>" (the error names the field, not an index inside it).
pub fn strict_list<'de, D: Deserializer<'de>, T: Grant>(d: D) -> Result<Vec<T>, D::Error> {
    known(Vec::<String>::deserialize(d)?)
}

/// [`strict_list`] for an optional field (a patch): absent or `null` leaves it.
pub fn strict_optional_list<'de, D: Deserializer<'de>, T: Grant>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    Option::<Vec<String>>::deserialize(d)?
        .map(known)
        .transpose()
}

fn known<T: Grant, E: serde::de::Error>(strings: Vec<String>) -> Result<Vec<T>, E> {
    strings
        .iter()
        .map(|s| T::parse(s).ok_or_else(|| E::custom(format!("{} {s}", T::UNKNOWN))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The strings as they were before the enum; stored roles and API clients use them.
    const OLD_CAPABILITIES: &[&str] = &[
        "customer.read",
        "customer.create",
        "customer.edit",
        "customer.delete",
        "customer.transfer",
        "customer.assign",
        "customer.export",
        "customer.import",
        "pool.claim",
        "pool.manage",
        "deal.read",
        "deal.create",
        "deal.edit",
        "deal.stage",
        "product.manage",
        "finance.read",
        "finance.edit",
        "report.view",
        "plugin.manage",
        "user.manage",
        "audit.view",
        "backup.run",
        "settings.manage",
        "lead.check",
        "call.ingest",
        "referral.submit",
    ];
    const OLD_FIELD_PRIVILEGES: &[&str] =
        &["phone.view_full", "id_number.view_full", "phone.view_own"];

    fn round_trips<T>(all: &[T], old: &[&str])
    where
        T: Grant + std::fmt::Debug + Serialize + serde::de::DeserializeOwned,
    {
        let strings: Vec<&str> = all.iter().map(|g| g.as_str()).collect();
        assert_eq!(strings, old, "ALL lists exactly the old strings, in order");
        for (g, s) in all.iter().zip(old) {
            let json = serde_json::to_string(g).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *g);
            assert_eq!(T::parse(s), Some(*g));
        }
    }

    #[test]
    fn every_grant_round_trips_through_the_old_string() {
        round_trips(Capability::ALL, OLD_CAPABILITIES);
        round_trips(FieldPrivilege::ALL, OLD_FIELD_PRIVILEGES);
        assert_eq!(Capability::parse("customer.fly"), None);
        assert_eq!(Capability::UserManage.to_string(), "user.manage");
    }

    #[test]
    fn an_unknown_string_is_refused_naming_the_field() {
        #[derive(Debug, Deserialize)]
        struct R {
            #[serde(deserialize_with = "strict_list")]
            #[allow(dead_code)]
            capabilities: Vec<Capability>,
        }
        let e = serde_json::from_str::<R>(r#"{"capabilities": ["customer.read", "nope"]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("未知权限 nope"), "{e}");
        let r: R = serde_json::from_str(r#"{"capabilities": ["pool.claim"]}"#).unwrap();
        assert_eq!(r.capabilities, [Capability::PoolClaim]);

        #[derive(Debug, Deserialize)]
        struct Patch {
            #[serde(default, deserialize_with = "strict_optional_list")]
            field_privileges: Option<Vec<FieldPrivilege>>,
        }
        let p = |json: &str| serde_json::from_str::<Patch>(json).map(|p| p.field_privileges);
        assert_eq!(p("{}").unwrap(), None);
        assert_eq!(p(r#"{"field_privileges": null}"#).unwrap(), None);
        assert_eq!(
            p(r#"{"field_privileges": ["id_number.view_full"]}"#).unwrap(),
            Some(vec![FieldPrivilege::IdNumberViewFull])
        );
        let e = p(r#"{"field_privileges": ["phone.peek"]}"#).unwrap_err();
        assert!(e.to_string().starts_with("未知字段权限 phone.peek"), "{e}");
    }
}
