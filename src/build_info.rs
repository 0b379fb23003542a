//! What was built: the crate version and, when built from a git work tree, the commit.
//!
//! The revision is read at compile time (`build.rs`, through vergen-gitcl), so a binary
//! reports the code it was built from wherever it runs. It is recorded in the release
//! ledger (`code_version`) and is deliberately not part of the plan fingerprint
//! ([`TOOL_VERSION`]): rebuilding at another commit does not change a plan.

/// The tool version that goes into every plan fingerprint (`backfill 0.1.0`).
pub const TOOL_VERSION: &str = concat!("backfill ", env!("CARGO_PKG_VERSION"));

/// The full git commit hash this binary was built from; `None` when it was built outside
/// a git work tree (a source tarball) or without git.
pub const GIT_REVISION: Option<&str> = match option_env!("VERGEN_GIT_SHA") {
    Some(sha) if is_commit_hash(sha) => Some(sha),
    _ => None,
};

/// True for a 40- or 64-digit lowercase hexadecimal commit hash (SHA-1 or SHA-256
/// repositories); false for vergen's placeholder when git was not available.
const fn is_commit_hash(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 40 && bytes.len() != 64 {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if !matches!(bytes[i], b'0'..=b'9' | b'a'..=b'f') {
            return false;
        }
        i += 1;
    }
    true
}

/// `git:<commit> backfill <version>`, or `backfill <version>` when built outside git.
pub fn code_version() -> String {
    match GIT_REVISION {
        Some(sha) => format!("git:{sha} {TOOL_VERSION}"),
        None => TOOL_VERSION.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_commit_hashes_count_as_a_revision() {
        assert!(is_commit_hash("0123456789abcdef0123456789abcdef01234567"));
        assert!(!is_commit_hash("VERGEN_IDEMPOTENT_OUTPUT"));
        assert!(!is_commit_hash(""));
        assert!(!is_commit_hash("0123456789ABCDEF0123456789abcdef01234567"));
    }

    #[test]
    fn code_version_ends_with_the_tool_version() {
        let v = code_version();
        assert!(v.ends_with(TOOL_VERSION), "{v}");
        assert_eq!(v.starts_with("git:"), GIT_REVISION.is_some(), "{v}");
    }
}
