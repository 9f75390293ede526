//! Who may be given a customer: the one rule behind every path that hands a customer to a
//! person (transfer, bulk transfer, assignment by hand or automatic, a new customer's or an
//! import's owner, an approved transfer request, the departure handover), and behind the user
//! directory's `may_receive`, so the pickers offer exactly whom the server accepts.

use crate::domain::capability::Capability;
use crate::domain::org::{User, UserStatus};
use crate::domain::roles::Role;
use crate::service::access::scope::Scope;
use crate::service::{Error, Result};
use crate::store::{WriteTransaction, users};

/// What an owner needs to work the customers they receive: to read them and to log follow-ups
/// and edits. A recipient without them (a finance or broker account) would hold customers
/// nobody works, out of every pool.
const NEEDS: &[Capability] = &[Capability::CustomerRead, Capability::CustomerEdit];

/// The refusal of a recipient who is gone or disabled.
pub const INACTIVE: &str = "接收人不存在或已停用";

/// The refusal of a recipient outside the caller's data scope.
pub const OUT_OF_SCOPE: &str = "接收人不在你的数据范围内";

/// Why `user`'s roles do not let them work customers (the permissions named as the roles
/// page names them; the keys meant nothing to the admin); `None` when they do.
pub(crate) fn lacks(roles: &[Role], user: &User) -> Option<String> {
    let access =
        crate::domain::roles::combine(roles.iter().filter(|r| user.roles.contains(&r.key)));
    let missing: Vec<&str> = NEEDS
        .iter()
        .filter(|c| !access.capabilities.contains(c))
        .map(|c| match c {
            Capability::CustomerRead => "“查看客户”",
            Capability::CustomerEdit => "“编辑客户”",
            other => other.as_str(),
        })
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "接收人无法接手客户：其角色没有{}权限，请选择业务员或经理",
            missing.join("、")
        )
    })
}

/// Why a caller with `scope` may not give customers to `user` (inactive, out of scope, or
/// unable to work customers); `None` when they may. The directory's `may_receive` is this
/// being `None`.
pub(crate) fn refusal(scope: &Scope, roles: &[Role], user: &User) -> Option<String> {
    if user.status != UserStatus::Active {
        return Some(INACTIVE.into());
    }
    if !scope.may_receive(&user.id) {
        return Some(OUT_OF_SCOPE.into());
    }
    lacks(roles, user)
}

/// The recipient `id` for a caller with `scope`, read in the use case's transaction, or the
/// refusal as a validation error on `field`.
pub(crate) fn recipient(
    tx: &WriteTransaction,
    scope: &Scope,
    id: &str,
    field: &str,
) -> Result<User> {
    let user = users::find_by_id_w(tx, id)?.ok_or_else(|| Error::validation(field, INACTIVE))?;
    let roles = crate::store::org::roles_w(tx)?;
    match refusal(scope, &roles, &user) {
        Some(reason) => Err(Error::validation(field, reason)),
        None => Ok(user),
    }
}
