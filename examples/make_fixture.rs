//! Regenerate the bundled sample warehouse: `cargo run --example make_fixture [DIR]`
//! (default `fixtures/warehouse`). Deterministic: the same code writes the same bytes.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("fixtures/warehouse"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    backfill::sample::write_sample(&dir, &backfill::sample::SampleOptions::default())?;
    println!("wrote the sample warehouse to {}", dir.display());
    Ok(())
}
