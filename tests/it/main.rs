//! All integration tests in one binary: one link step instead of one per file (the 2-core CI
//! machine spent most of its test time linking, and each binary weighed ~400 MB).
//! Run one area with `cargo test --test it search::`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod access_rule;
mod assign_new;
mod audit_actions;
mod audit_and_throttle;
mod audit_chain;
mod backup;
mod backup_interop;
mod backup_schedule;
mod backup_settings;
mod common;
mod contracts;
mod customer_features;
mod customer_list_index;
mod customers;
mod deals;
mod export;
mod followups;
mod funnels;
mod fuzz;
mod import;
mod import_rules;
mod issue15_fixes;
mod metrics;
mod notices;
mod org_scope;
mod owner_reveal;
mod packaging;
mod pii_at_rest;
mod platform_api;
mod plugin_trust;
mod plugins;
mod pool_pages;
mod pool_rule_view;
mod pool_scope;
mod pools;
mod privacy;
mod process;
mod products;
mod profile;
mod recycle_bin;
mod rotate_key;
mod scope_matrix;
mod scope_walk;
mod search;
mod search_departments;
mod security;
mod setup_link;
mod store_schema;
mod tools;
mod transfer_requests;
mod trends;
mod users;
mod xlsx_bombs;
