//! The OpenAPI document's frame; paths are collected from the handlers by utoipa-axum.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "zhudai API",
        description = "助贷 CRM public API. Errors are `{\"error\":{\"code\",\"message\",\"field\"}}`.\n\nAuthentication: the session cookie from `POST /api/v1/auth/login` (browsers; mutating requests send `X-CSRF-Token`), or `Authorization: Bearer TOKEN` (integrators).",
        license(name = "AGPL-3.0-or-later")
    ),
    tags(
        (name = "system", description = "Health and server information"),
        (name = "auth", description = "First-run setup, login and sessions"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "backups", description = "Scheduled backups: status and run now"),
        (name = "users", description = "Staff accounts"),
        (name = "customers", description = "Customers (客户): records, duplicates, reveals"),
        (name = "organisation", description = "Departments and roles"),
        (name = "pools", description = "Public pools (公海): claim, release, locks, recall sweeps, assignment"),
        (name = "plugins", description = "Rhai plugins: status, source, versions, rollback, try a hook"),
        (name = "products", description = "Credit products (信贷产品) and matching a customer against them"),
        (name = "reports", description = "Funnels and reports over the caller's scope"),
        (name = "deals", description = "Deals (业务单) through the pipeline: board, list, stage moves with their required fields"),
        (name = "documents", description = "Document custody (权证): checklists, hand-overs, encrypted scans with ranged downloads, the held and overdue lists"),
        (name = "leads", description = "Leads from outside: the lead-vendor duplicate check (撞库) and the online application forms (在线申请)"),
        (name = "fees", description = "Fees (服务费), payments (回款), refunds, waivers, rebates, commission statements and month close (月结)"),
        (name = "contracts", description = "Contract templates (versioned), a deal's frozen contracts, one-time signing links, verification, the signed PDF"),
        (name = "signing", description = "The borrower's signing page and its submission (no login; outside /api; the one-time token is the authority)"),
        (name = "calls", description = "Calls from the PBX: ingestion by API token, matching by the number's blind index, the unmatched list, encrypted recordings with ranged playback, call statistics"),
        (name = "tools", description = "Calculators for any signed-in user: repayment schedules and the comprehensive financing cost"),
        (name = "brokers", description = "Brokers (经纪人): the broker portal (referrals with consent, their masked status), broker accounts, referral fees payable"),
    )
)]
pub struct ApiDoc;
