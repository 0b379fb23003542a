//! What backfill relies on of the S3 protocol, asked of moto directly through
//! `object_store` (the client backfill uses): put-if-absent (`If-None-Match: *`, the
//! catalog commit and the lease), compare-and-swap on an e_tag (`If-Match`), listings
//! that carry e_tags (drift is judged by e_tag and size), and multipart uploads.
//!
//! backfill's own Parquet writes never go multipart at this size: DataFusion's writer
//! buffers up to `datafusion.execution.objectstore_writer_buffer_size` (10 MiB) and sends
//! smaller files in one PUT; the fixture's files are kilobytes. The multipart upload is
//! therefore checked here on its own, as object_store performs it for a larger file.

use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

/// Every check, on a bucket holding the warehouse `wh/` after the run; `committed` is a
/// catalog version the run wrote.
pub async fn check(store: &AmazonS3, committed: &str) {
    conditional_create(store, committed).await;
    listing_carries_e_tags(store).await;
    conditional_update(store).await;
    multipart_upload(store).await;
}

fn create() -> PutOptions {
    PutOptions { mode: PutMode::Create, ..Default::default() }
}

async fn bytes(store: &AmazonS3, path: &ObjectPath) -> Vec<u8> {
    store.get(path).await.expect("get").bytes().await.expect("body").to_vec()
}

/// A second commit of an existing catalog version is refused and changes nothing; of two
/// creates of a new object, the first lands and the second is refused.
async fn conditional_create(store: &AmazonS3, committed: &str) {
    let path = ObjectPath::from(committed);
    let before = bytes(store, &path).await;
    let err = store.put_opts(&path, PutPayload::from_static(b"{}"), create()).await.unwrap_err();
    assert!(matches!(err, object_store::Error::AlreadyExists { .. }), "create over {committed}: {err}");
    assert_eq!(bytes(store, &path).await, before, "a refused create leaves the object as it was");

    let fresh = ObjectPath::from("wire/created.json");
    store.put_opts(&fresh, PutPayload::from_static(b"{\"first\":1}"), create()).await.expect("the first create");
    let err = store.put_opts(&fresh, PutPayload::from_static(b"{\"second\":2}"), create()).await.unwrap_err();
    assert!(matches!(err, object_store::Error::AlreadyExists { .. }), "second create: {err}");
    assert_eq!(bytes(store, &fresh).await, b"{\"first\":1}");
}

/// Listing the catalog gives each version's e_tag (a quoted MD5 on S3) and size, the same
/// as a HEAD of the object.
async fn listing_carries_e_tags(store: &AmazonS3) {
    use futures::TryStreamExt;
    let metas: Vec<_> =
        store.list(Some(&ObjectPath::from("wh/_catalog"))).try_collect().await.expect("list the catalog");
    assert_eq!(metas.len(), 4);
    for meta in metas {
        let e_tag = meta.e_tag.clone().unwrap_or_else(|| panic!("no e_tag listed for {}", meta.location));
        let hex = e_tag.trim_matches('"');
        assert!(hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "e_tag {e_tag}");
        let head = store.head(&meta.location).await.expect("head");
        assert_eq!((head.e_tag, head.size), (meta.e_tag, meta.size), "{}", meta.location);
    }
}

/// An update on a stale e_tag is refused; on the current one it lands.
async fn conditional_update(store: &AmazonS3) {
    let path = ObjectPath::from("wire/created.json");
    let current = store.head(&path).await.expect("head").e_tag;
    let stale = UpdateVersion { e_tag: Some(format!("\"{}\"", "0".repeat(32))), version: None };
    let update = |v: UpdateVersion| PutOptions { mode: PutMode::Update(v), ..Default::default() };
    let err = store.put_opts(&path, PutPayload::from_static(b"{\"stale\":1}"), update(stale)).await.unwrap_err();
    assert!(matches!(err, object_store::Error::Precondition { .. }), "update on a stale e_tag: {err}");
    let fresh = UpdateVersion { e_tag: current.clone(), version: None };
    let put = store.put_opts(&path, PutPayload::from_static(b"{\"next\":2}"), update(fresh)).await;
    assert_ne!(put.expect("update on the current e_tag").e_tag, current);
    assert_eq!(bytes(store, &path).await, b"{\"next\":2}");
}

/// Two parts (S3's smallest non-final part is 5 MiB) complete into one object whose
/// e_tag says it was uploaded in two parts.
async fn multipart_upload(store: &AmazonS3) {
    let path = ObjectPath::from("wire/multipart.bin");
    let first = vec![b'a'; 5 << 20];
    let second = vec![b'b'; 1000];
    let mut upload = store.put_multipart(&path).await.expect("start a multipart upload");
    upload.put_part(PutPayload::from(first.clone())).await.expect("part 1");
    upload.put_part(PutPayload::from(second.clone())).await.expect("part 2");
    upload.complete().await.expect("complete the multipart upload");
    let head = store.head(&path).await.expect("head");
    assert_eq!(head.size, (first.len() + second.len()) as u64);
    assert!(head.e_tag.as_deref().is_some_and(|t| t.trim_matches('"').ends_with("-2")), "{:?}", head.e_tag);
    assert_eq!(bytes(store, &path).await, [first, second].concat());
}
