//! `backfill` compiles and executes warehouse backfills safely.
//!
//! A bounded YAML spec goes through one module per pipeline stage, with typed values
//! between them (DESIGN.md, pipeline):
//!
//! ```text
//! spec::Spec ─▶ plan::Plan ─▶ render::RenderedPlan ─▶ execute (dry_run / run)
//!  (parse,       (scope, batches,   (every statement from minijinja     (DataFusion: sample in
//!   validate)     estimates,         templates, parsed back with         memory, or the shadow
//!                 dependents)        DataFusion's parser; fingerprint)   batch by batch)
//! ```
//!
//! [`warehouse`] and [`catalog`] read the hive-partitioned Parquet warehouse through
//! `object_store`. Spec, plan, render and the dry run never write; `execute::run` writes
//! only the shadow table and `_backfills/<id>/`. [`sample`] generates the bundled fixture
//! warehouse (the TPC-H one is dev-only: `tests/common/tpch.rs`).
#![warn(missing_docs)]

pub mod build_info;
pub mod catalog;
pub mod clock;
pub mod error;
pub mod execute;
pub mod failpoint;
pub mod layout;
pub mod number;
pub mod plan;
pub mod publish;
pub mod reconcile;
pub mod render;
pub mod report;
pub mod sample;
pub mod spec;
pub mod sql;
pub mod state;
pub mod warehouse;

pub use error::{Error, ErrorKind};
