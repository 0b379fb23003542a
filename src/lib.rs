//! `backfill` compiles and executes warehouse backfills safely.
//!
//! A bounded YAML spec goes through one module per pipeline stage, with typed values
//! between them (DESIGN.md, pipeline):
//!
//! ```text
//! spec::Spec ─▶ plan::Plan ─▶ render::RenderedPlan
//!  (parse,       (scope, batches,   (every statement from minijinja
//!   validate)     estimates,         templates, parsed back with
//!                 dependents)        DataFusion's parser; fingerprint)
//! ```
//!
//! [`warehouse`] and [`catalog`] read the hive-partitioned Parquet warehouse through
//! `object_store`. Spec, plan and render never write.
#![warn(missing_docs)]

pub mod catalog;
pub mod error;
pub mod execute;
pub mod plan;
pub mod render;
pub mod sample;
pub mod spec;
pub mod warehouse;

pub use error::{Error, ErrorKind};
