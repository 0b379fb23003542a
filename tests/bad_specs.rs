//! The bad-spec corpus: every `tests/bad_specs/*.yaml` starts with
//! `# expect: LINE:COL MESSAGE`. `backfill validate` must exit 2, print the spec's
//! path with that line and column and the message, never panic, and write nothing.

use crate::common::{backfill, root, tree_digest, warehouse_copy};

struct Case {
    name: String,
    position: String,
    message: String,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("tests/bad_specs")).expect("corpus folder") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read case");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks '# expect: LINE:COL MESSAGE'", path.display()));
        let (position, message) = expect.split_once(' ').expect("LINE:COL MESSAGE");
        out.push(Case {
            name: path.file_name().unwrap().to_string_lossy().to_string(),
            position: position.to_string(),
            message: message.to_string(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[test]
fn corpus_has_a_case_per_check() {
    assert!(cases().len() >= 15, "the corpus needs at least 15 cases, has {}", cases().len());
}

#[test]
fn every_bad_spec_exits_2_at_its_line_and_writes_nothing() {
    let wh = warehouse_copy();
    let before = tree_digest(wh.path());
    let repo_before = tree_digest(&root().join("tests/bad_specs"));
    let mut failures = Vec::new();
    for case in cases() {
        let rel = format!("tests/bad_specs/{}", case.name);
        let out = backfill().args(["validate", &rel, "--warehouse"]).arg(wh.path()).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let located = format!("{rel}:{}:", case.position);
        let ok = out.status.code() == Some(2)
            && stderr.contains(&located)
            && stderr.contains(&case.message)
            && !stderr.contains("panicked")
            && out.stdout.is_empty();
        if !ok {
            failures.push(format!(
                "{}: exit {:?}, wanted 2 with `{located}` and `{}`; stderr:\n{stderr}",
                case.name,
                out.status.code(),
                case.message
            ));
        }
        assert_eq!(tree_digest(wh.path()), before, "{} changed the warehouse", case.name);
    }
    assert_eq!(tree_digest(&root().join("tests/bad_specs")), repo_before, "a case wrote next to the specs");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
