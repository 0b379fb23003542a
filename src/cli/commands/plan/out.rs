//! `plan --out DIR`: each statement (each step) as a numbered file, and the three scripts.

use std::path::Path;

use backfill::plan::Plan;
use backfill::render::Scripts;
use backfill::Error;

use super::{header, Listing};

/// `plan --out DIR`: `DIR/run.sql`, `DIR/publish.sql`, `DIR/rollback.sql`.
pub(super) fn write_scripts(dir: &Path, plan: &Plan, scripts: &Scripts) -> Result<(), Error> {
    for script in scripts.all() {
        let path = dir.join(script.file);
        let mut text =
            format!("-- backfill {}: {} ({} dialect)\n", script.file, plan.spec.backfill_id, scripts.dialect);
        text.push_str(&format!("-- plan fingerprint sha256:{}\n", scripts.fingerprint));
        text.push_str(&script.text(|s| header(s, plan, scripts.dialect)));
        std::fs::write(&path, text)
            .map_err(|source| Error::Io { context: format!("writing {}", path.display()), source })?;
    }
    Ok(())
}

/// `plan --out DIR`: `0001_prepare_view.sql`, `0003_b0001_write_batch.sql`, …
/// Earlier plan files in DIR (`NNNN_*.sql`) are removed first so the folder holds one plan.
pub(super) fn write_sql_files(dir: &Path, plan: &Plan, rendered: &Listing) -> Result<(), Error> {
    let io = |context: String| move |source| Error::Io { context, source };
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    for entry in std::fs::read_dir(dir).map_err(io(format!("reading {}", dir.display())))?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let ours = name.ends_with(".sql")
            && name.len() > 5
            && name.get(..4).is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
            && name.as_bytes()[4] == b'_';
        if ours {
            std::fs::remove_file(entry.path()).map_err(io(format!("removing {}", entry.path().display())))?;
        }
    }
    // One file per step: a warehouse dialect's step may be several statements (BEGIN;
    // DELETE; INSERT; COMMIT) that only make sense together.
    for group in backfill::render::by_step(rendered.statements.iter().copied()) {
        let s = group[0];
        let name = match s.batch {
            Some(b) => format!("{:04}_b{b:04}_{}.sql", s.index, s.step),
            None => format!("{:04}_{}.sql", s.index, s.step),
        };
        let path = dir.join(name);
        let body: String = group.iter().map(|s| format!("{};\n", s.sql)).collect();
        std::fs::write(&path, format!("{}\n{body}", header(s, plan, rendered.dialect)))
            .map_err(io(format!("writing {}", path.display())))?;
    }
    Ok(())
}
