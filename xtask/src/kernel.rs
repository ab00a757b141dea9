//! The kernel tree, stage by stage: the base kernel ([`base`]), the series
//! in patches/ ([`series`]) applied onto it in the work tree ([`apply`])
//! and written back ([`export`]), what xtask knows of the work tree's git
//! repository ([`repo`]) and of its own worktrees beside it
//! ([`worktree`]), the configuration ([`kconfig`], and the command that
//! stops there, [`config`]) and the build ([`build`]), and the lint of its
//! Rust code ([`check`]).

pub mod apply;
pub mod base;
pub mod build;
pub mod check;
pub mod config;
pub mod export;
pub mod kconfig;
pub mod repo;
pub mod series;
pub mod worktree;
