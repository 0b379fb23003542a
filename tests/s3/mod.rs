//! The whole pipeline on an `s3://bucket/prefix` warehouse served by a local
//! `moto_server`: `run --execute` killed with SIGKILL mid-run and resumed, `publish`, a
//! query of the consumer view, `rollback` and `releases`, each through the real binary
//! with only the standard `AWS_*` variables; the shadow and the view equal those of the
//! same steps on a local copy. `wire` checks what the run relies on of the S3 protocol
//! (conditional create, listing with e_tags, multipart uploads) against the same server.
//!
//! What this does not prove: atomicity under concurrency. moto does not apply
//! conditional writes atomically, so the races (two publishes, two runs) are tested on
//! the local file system only (`publish`, `execute::stops`).
//!
//! Run it alone with `cargo test --test runner s3`.

mod moto;
mod wire;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::common::{backfill, fixture_warehouse, warehouse_copy};
use moto::MotoServer;

const BUCKET: &str = "backfill-s3-test";
const ID: &str = "revenue-tax-fix-2026-06";
/// Batches of the short spec: 2024-12-01..2025-03-31 without 2025-01-01, seven a batch.
const BATCHES: usize = 18;

/// The fixture spec over four months (120 partitions, 18 batches): every request on
/// moto is a round trip, so the range is kept short. Written into `dir`.
fn short_spec(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(crate::common::root().join("specs/revenue-tax-fix.yaml")).expect("spec");
    let text =
        text.replace("end: 2026-05-31", "end: 2025-03-31").replace("exclude: [2025-12-25]", "exclude: [2025-01-01]");
    let path = dir.join("short.yaml");
    std::fs::write(&path, text).expect("write spec");
    path
}

/// The consumer view around the range's edges and the excluded day (the shadow inside,
/// the base outside); partition filters keep the scan small.
const VIEW: &str = "SELECT revenue_date, merchant_id, gross_revenue, net_revenue FROM finance.daily_revenue_current \
                    WHERE revenue_date BETWEEN DATE '2024-11-29' AND DATE '2024-12-02' \
                       OR revenue_date BETWEEN DATE '2024-12-31' AND DATE '2025-01-02' \
                       OR revenue_date BETWEEN DATE '2025-03-30' AND DATE '2025-04-02' \
                    ORDER BY 1, 2";
const SHADOW: &str =
    "SELECT revenue_date, merchant_id, gross_revenue, net_revenue FROM finance.daily_revenue_v2 ORDER BY 1, 2";

/// (exit code, stdout, stderr) of a finished command.
fn outcome(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().expect("run backfill");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// `backfill --warehouse s3://… <args>` against moto, which must exit 0; its stdout.
fn on_s3(moto: &MotoServer, wh: &str, args: &[&str]) -> String {
    let (code, out, err) = outcome(moto.backfill().args(["--warehouse", wh]).args(args));
    assert_eq!(code, Some(0), "backfill {args:?} on {wh}:\n{err}");
    out
}

/// `backfill --warehouse DIR <args>` on a local folder, which must exit 0; its stdout.
fn on_local(wh: &Path, args: &[&str]) -> String {
    let out = backfill().arg("--warehouse").arg(wh).args(args).output().expect("run backfill");
    assert_eq!(out.status.code(), Some(0), "backfill {args:?} on {}:\n{}", wh.display(), {
        String::from_utf8_lossy(&out.stderr)
    });
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copy every file under `from` to `prefix/<relative path>` in the bucket; the count.
async fn upload(store: &AmazonS3, from: &Path, prefix: &str) -> usize {
    let files: Vec<_> = walkdir::WalkDir::new(from)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    futures::stream::iter(&files)
        .map(|file| async move {
            let rel = file.strip_prefix(from).expect("inside").to_str().expect("UTF-8 path");
            let bytes = std::fs::read(file).expect("read fixture");
            store.put(&ObjectPath::from(format!("{prefix}/{rel}")), PutPayload::from(bytes)).await
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await
        .expect("upload the fixture to moto");
    files.len()
}

/// The objects under `prefix`, sorted by path.
async fn list(store: &AmazonS3, prefix: &str) -> Vec<object_store::ObjectMeta> {
    let mut metas: Vec<_> = store.list(Some(&ObjectPath::from(prefix))).try_collect().await.expect("list");
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    metas
}

/// The two counts of `executed ID: X batches run now, Y already done; …`.
fn run_counts(stdout: &str) -> (usize, usize) {
    let rest = stdout.split_once(&format!("executed {ID}: ")).unwrap_or_else(|| panic!("{stdout}")).1;
    let (now, rest) = rest.split_once(" batches run now, ").unwrap_or_else(|| panic!("{stdout}"));
    let (done, _) = rest.split_once(" already done").unwrap_or_else(|| panic!("{stdout}"));
    (now.parse().expect("a count"), done.parse().expect("a count"))
}

#[test]
fn the_pipeline_on_moto_s3_survives_a_kill_and_equals_the_local_run() {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let store = moto.store(BUCKET);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let uploaded = rt.block_on(upload(&store, &fixture_warehouse(), "wh"));
    // More keys than one ListObjectsV2 page (1,000) holds: listings follow continuation tokens.
    assert!(uploaded > 1000, "{uploaded} files");
    assert_eq!(rt.block_on(list(&store, "wh")).len(), uploaded);
    let wh = format!("s3://{BUCKET}/wh");
    let state = format!("wh/_backfills/{ID}");
    let specs = tempfile::tempdir().expect("tempdir");
    let spec = short_spec(specs.path());
    let spec = spec.to_str().expect("UTF-8 path");

    // run --execute, killed with SIGKILL once a few batches are done.
    let mut child = moto
        .backfill()
        .args(["--warehouse", &wh, "run", spec, "--execute"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn backfill");
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut seen = Vec::new();
    while seen.iter().filter(|l: &&String| l.starts_with("batch ")).count() < 3 {
        match lines.next() {
            Some(line) => seen.push(line.expect("stderr line")),
            None => panic!("the run ended before three batches:\n{}", seen.join("\n")),
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let checkpoints = rt.block_on(list(&store, &format!("{state}/batches"))).len();
    assert!((3..BATCHES).contains(&checkpoints), "killed after {checkpoints} of {BATCHES} batches");
    let lease = |generation: u64| -> serde_json::Value {
        let path = ObjectPath::from(format!("{state}/lease/{generation:010}.json"));
        let bytes = rt.block_on(async { store.get(&path).await.expect("lease").bytes().await.expect("bytes") });
        serde_json::from_slice(&bytes).expect("lease JSON")
    };
    assert_eq!(lease(1)["released"], false, "the killed run's lease is left held");

    // The rerun takes the dead run's lease over and does the rest.
    let out = on_s3(&moto, &wh, &["run", spec, "--execute"]);
    let (now, done) = run_counts(&out);
    assert!(done >= checkpoints && now + done == BATCHES, "{out}");
    assert!(out.contains("every gate passed"), "{out}");
    // Taken over as generation 2 (a conditional create on S3), then given back.
    assert_eq!(lease(2)["released"], true, "the rerun took the lease over and released it");
    assert!(rt.block_on(list(&store, &format!("{state}/staging"))).is_empty(), "nothing left staged");
    assert_eq!(rt.block_on(list(&store, &format!("{state}/batches"))).len(), BATCHES);

    // The same spec, uninterrupted, on a local copy.
    let local = warehouse_copy();
    let local = local.path();
    on_local(local, &["run", spec, "--execute"]);
    let shadow = on_s3(&moto, &wh, &["query", SHADOW, "--format", "csv"]);
    assert_eq!(shadow.lines().count(), 1 + 2_400, "header + 120 partitions x 20 merchants");
    assert_eq!(shadow, on_local(local, &["query", SHADOW, "--format", "csv"]), "the shadow equals the local run's");

    // Publish, read the view, roll back: as on the local copy (each query on S3 reads
    // every file's footer, so the view before publishing is read on the local copy only).
    let before = on_local(local, &["query", VIEW, "--format", "csv"]);
    let out = on_s3(&moto, &wh, &["publish", spec, "--approved-by", "x"]);
    assert!(out.contains("verified by reading the view back"), "{out}");
    on_local(local, &["publish", spec, "--approved-by", "x"]);
    let published = on_s3(&moto, &wh, &["query", VIEW, "--format", "csv"]);
    assert_ne!(published, before, "the view reads the corrected partitions");
    assert_eq!(published, on_local(local, &["query", VIEW, "--format", "csv"]), "the view equals the local one");

    let out = on_s3(&moto, &wh, &["rollback", spec, "--approved-by", "x"]);
    assert!(out.contains("rolled back"), "{out}");
    let rolled_back = on_s3(&moto, &wh, &["query", VIEW, "--format", "csv"]);
    assert_eq!(rolled_back, before, "rollback restores the view as it was before publishing");

    let releases = on_s3(&moto, &wh, &["releases", "--format", "csv"]);
    let rows: Vec<&str> = releases.lines().collect();
    assert_eq!(rows.len(), 3, "header, rollback, publish (newest first):\n{releases}");
    assert!(rows[1].contains(",rollback,") && rows[2].contains(",publish,"), "{releases}");
    assert_eq!(rt.block_on(list(&store, "wh/governance/data_releases")).len(), 2, "one ledger object per release");

    // What the run wrote through the protocol: the catalog chain and the shadow's files.
    let catalog: Vec<String> =
        rt.block_on(list(&store, "wh/_catalog")).iter().map(|m| m.location.to_string()).collect();
    let versions: Vec<String> = (1..=4).map(|n| format!("wh/_catalog/v{n:08}.json")).collect();
    assert_eq!(catalog, versions, "v1 from the fixture; the run's view, the publish and the rollback");
    assert_eq!(rt.block_on(list(&store, "wh/finance/daily_revenue_v2")).len(), 120, "one file per partition");

    rt.block_on(wire::check(&store, "wh/_catalog/v00000004.json"));
}
