//! The one integration-test binary (as in jj's `tests/runner.rs`): every module below
//! drives the real `backfill` binary or the library against the bundled fixture.

mod architecture;
mod bad_specs;
mod ballista;
mod common;
mod crash;
mod data_errors;
mod demo;
mod dialects;
mod dry_run;
mod engines;
mod execute;
mod executed;
mod faults;
mod help;
mod lazy;
mod numbers;
mod plan_cli;
mod pruning;
mod publish;
mod reconcile;
mod rollback;
mod roundtrip;
mod s3;
mod seasonal_fixture;
