//! Every integration test of the project, in one binary.
//!
//! One test binary links the library and its dependencies once: sixty of them took about 2 GiB
//! of disk even with line tables only (and ran CI out of disk with full debug info), and as many
//! links. Each file here is a module named after it (`cargo test --test suite -- train::` runs
//! one); the helpers they share stay where a test binary of its own finds them too
//! (`tests/common`, `tests/screen`, `tests/support`, `tests/git_fixture`).

#[path = "../support/commerce.rs"]
mod commerce;
#[path = "../common/mod.rs"]
mod common;
#[path = "../support/fixture.rs"]
mod fixture;
#[path = "../git_fixture/mod.rs"]
mod git_fixture;
#[path = "../screen/mod.rs"]
mod screen;

mod architecture;
mod cli_check;
mod cli_color;
mod cli_completions;
mod cli_edges;
mod crash;
mod demo;
mod drift_cli;
mod engine_cancel;
mod engine_crash;
mod engine_gates;
mod engine_git;
mod engine_promises;
mod engine_rollback;
mod engine_run;
mod engine_start_requests;
mod envs;
mod freeze;
mod git_cli;
mod git_notes;
mod git_plan;
mod git_repo;
mod governance;
mod history_index;
mod incidents;
mod journal_integrity;
mod metrics;
mod notify;
mod partial;
mod pg_cockpit;
mod pg_pooler;
mod pg_store;
mod plan_check;
mod report;
mod review;
mod rollback_scope;
mod schedule;
mod signed_approvals;
mod train;
mod tui_actions;
mod tui_app;
mod tui_envs;
mod tui_incidents;
mod tui_loop;
mod tui_metrics;
mod tui_mouse;
mod tui_panes;
mod tui_redeploy;
mod tui_reviews_and_store;
mod tui_settings;
mod tui_source;
mod tui_source_views;
mod tui_tmux;
mod tui_tmux_actions;
mod tui_tmux_governance;
mod tui_tmux_incidents;
mod tui_tmux_redeploy;
mod tui_tmux_settings;
mod tui_tmux_ws;
mod tui_views;
mod ws_board;
