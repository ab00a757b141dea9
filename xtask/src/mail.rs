//! Sending the series: what reviewers will say of each patch
//! ([`check_series`]), the mails ([`format_patch`]) and sending them
//! ([`send`]).

pub mod check_series;
pub mod format_patch;
pub mod send;
