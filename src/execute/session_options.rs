//! How the engine's session is sized (memory, parallelism) and how it takes a table that
//! does not register; split from `session.rs` for length.

/// How the session is sized, and how it takes a table that does not register.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Memory the engine may hold before spilling, bytes (a fair spill pool).
    pub memory_limit: usize,
    /// DataFusion's target partitions (parallelism of one query).
    pub target_partitions: usize,
    /// Leave out, with a warning, a table that does not list or register (its files no longer
    /// share a schema, say) instead of failing; a statement reading it then fails. For rollback.
    pub skip_unregistrable: bool,
}

impl Default for SessionOptions {
    /// A quarter of physical memory (4 GiB when unknown), one partition per core, all tables required.
    fn default() -> Self {
        Self {
            memory_limit: physical_memory().map_or(4 << 30, |m| m / 4),
            target_partitions: std::thread::available_parallelism().map_or(2, |n| n.get()),
            skip_unregistrable: false,
        }
    }
}

/// Physical memory in bytes, as sysinfo reads it for this operating system (`None` where
/// it cannot).
fn physical_memory() -> Option<usize> {
    use sysinfo::{MemoryRefreshKind, RefreshKind, System};
    let refresh = RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram());
    let bytes = System::new_with_specifics(refresh).ok()?.total_memory();
    usize::try_from(bytes).ok().filter(|&b| b > 0)
}
