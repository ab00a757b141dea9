//! The kernel in a guest, stage by stage: the suites ([`suite`]) and their
//! programs ([`selftests`]), booting them in virtme-ng ([`boot`]), the
//! verdict on a console log ([`verdict`], with the kernel reports of
//! [`splat`]), the reviewed results ([`snapshot`]) and the reports a run
//! leaves ([`report`]). The `test` command ([`test`]) runs them in a row;
//! `parse` and `review` work on what a run left.

pub mod boot;
pub mod parse;
pub mod report;
pub mod review;
pub mod root;
pub mod selftests;
pub mod snapshot;
pub mod splat;
pub mod suite;
pub mod test;
pub mod verdict;
