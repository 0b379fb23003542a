//! The sections that say where the backfill writes and what it covers: `target` (the
//! table, its grain and the derived view and shadow names), `source_range` (the dates,
//! their exclusions and the partition budget) and `rollback` (the snapshot tag).

use std::collections::BTreeSet;

use crate::spec::ident::{check_tag, TableName};
use crate::spec::raw::RawSpec;
use crate::spec::*;

use super::Ctx;

impl Ctx {
    pub(super) fn target(&self, raw: &RawSpec, id_ident: &str) -> Result<Target, SpecError> {
        let t = &raw.target;
        let table = self.table("target.table", &t.table)?;
        let partition_key = self.column("target.partition_key", &t.partition_key)?;
        let mut keys = Vec::new();
        for (i, k) in t.keys.iter().enumerate() {
            let field = format!("target.keys[{i}]");
            let k = self.column(&field, k)?;
            if k == partition_key || keys.contains(&k) {
                return Err(self.err(
                    &field,
                    format!("`{k}` is listed twice (the partition key is always part of the grain)"),
                    "list each key column once, without the partition key",
                ));
            }
            keys.push(k);
        }
        let view = match &t.view {
            Some(v) => self.table("target.view", v)?,
            None => TableName::new(&table.schema, &format!("{}_current", table.table)),
        };
        let shadow = match &t.shadow {
            Some(s) => self.table("target.shadow", s)?,
            None => TableName::new(&table.schema, &format!("{}__{id_ident}", table.table)),
        };
        if shadow.table.len() > 63 {
            return Err(self.err(
                "target.shadow",
                format!("the shadow name `{shadow}` is longer than 63 characters"),
                "set target.shadow to a shorter name",
            ));
        }
        for (field, name) in [("target.view", &view), ("target.shadow", &shadow)] {
            if *name == table {
                return Err(self.err(
                    field,
                    format!("`{name}` is the base table itself"),
                    "name a different table; the base table is never rewritten",
                ));
            }
        }
        if view == shadow {
            return Err(self.err(
                "target.shadow",
                "the shadow and the consumer view have the same name",
                "give them different names",
            ));
        }
        Ok(Target { table, partition_key, keys, view, shadow })
    }

    pub(super) fn range(&self, raw: &RawSpec, max_partitions: u32) -> Result<SourceRange, SpecError> {
        let r = &raw.source_range;
        let start = self.date("source_range.start", &r.start)?;
        let end = self.date("source_range.end", &r.end)?;
        if end < start {
            return Err(self.err(
                "source_range.end",
                format!("the range ends ({end}) before it starts ({start})"),
                "make end the same as or later than start",
            ));
        }
        let mut exclude = BTreeSet::new();
        for (i, text) in r.exclude.iter().enumerate() {
            let field = format!("source_range.exclude[{i}]");
            let day = self.date(&field, text)?;
            if day < start || day > end {
                return Err(self.err(
                    &field,
                    format!("{day} is outside the range {start}..{end}"),
                    "remove it, or widen the range to include it",
                ));
            }
            if !exclude.insert(day) {
                return Err(self.err(&field, format!("{day} is excluded twice"), "list each excluded date once"));
            }
        }
        let range = SourceRange { start, end, exclude };
        let count = range.partition_count();
        if count == 0 {
            return Err(self.err(
                "source_range.exclude",
                "every partition of the range is excluded",
                "exclude fewer dates, or drop the backfill",
            ));
        }
        if count > i64::from(max_partitions) {
            return Err(self.err(
                "source_range.start",
                format!("the range holds {count} partitions, more than max_partitions ({max_partitions})"),
                "narrow the range, split the backfill, or raise execution.max_partitions",
            ));
        }
        Ok(range)
    }

    pub(super) fn rollback(&self, raw: &RawSpec, target: &Target, id_ident: &str) -> Result<Rollback, SpecError> {
        let r = raw.rollback.as_ref();
        let snapshot = match r.and_then(|r| r.snapshot.as_ref()) {
            Some(s) => {
                check_tag(s).map_err(|p| {
                    self.err("rollback.snapshot", p, "write a tag such as finance.daily_revenue_pre_FIN_2841")
                })?;
                s.clone()
            }
            None => format!("{}_pre_{id_ident}", target.table),
        };
        Ok(Rollback { snapshot, retention_days: r.and_then(|r| r.retention_days).unwrap_or(30) })
    }
}
