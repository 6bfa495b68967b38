//! `type = "azure_blob"`: hours that settle and close, scans, healthchecks, refused keys and
//! `max_catchup`.

use chrono::Duration as Span;
use nodeport_watch::ingest::launch::check_source;
use nodeport_watch::sources::{PollMode, Progress, Source as _, TimeRange};

use crate::support::azure_blob_kit::{
    ADMIN, blob_name, driver, harness, nodeport_line, service_names, source,
};
use crate::support::azure_harness::{Harness, start_time};
use crate::support::azurite::{Azurite, append};

#[tokio::test]
async fn azure_blob_closes_settled_hours_and_reads_their_unterminated_last_line() {
    let azurite = Azurite::start().await;
    let admin = azurite.create_container(ADMIN).await;
    let h = harness(&azurite, "");
    let t0 = start_time();
    let hour10 = blob_name("prod", t0 - Span::hours(2));
    let hour11 = blob_name("prod", t0 - Span::hours(1));
    let last = nodeport_line("prod", "u-2", "u2");
    append(
        &admin,
        &hour10,
        (nodeport_line("prod", "u-1", "u1") + last.trim_end()).as_bytes(),
        true,
    )
    .await;
    let open_last = nodeport_line("prod", "u-3", "u3");
    append(&admin, &hour11, open_last.trim_end().as_bytes(), true).await;

    let services = h.services();
    let mut driver = driver(&h, &services, PollMode::Live).await;
    let report = driver.step().await.unwrap();
    assert_eq!(
        report.stats.records, 2,
        "hour 10 settled at 11:30; hour 11 has not"
    );
    assert_eq!(service_names(&services).await, ["u1", "u2"]);
    let cursor = driver.cursor();
    assert_eq!(
        cursor.from_hour_ms,
        (t0 - Span::hours(1)).timestamp_millis()
    );
    assert!(
        !cursor.blobs.contains_key(&format!("{ADMIN}/{hour10}")),
        "a closed hour is forgotten"
    );

    // Once hour 11 settles (12:30), its unterminated last line is read.
    h.clock.advance(Span::minutes(31));
    let report = driver.step().await.unwrap();
    assert_eq!(report.stats.records, 1);
    assert_eq!(service_names(&services).await, ["u1", "u2", "u3"]);
    assert_eq!(driver.cursor().from_hour_ms, t0.timestamp_millis());
}

#[tokio::test]
async fn azure_blob_scan_leaves_the_live_checkpoint_alone() {
    let azurite = Azurite::start().await;
    let admin = azurite.create_container(ADMIN).await;
    let h = harness(&azurite, "");
    let t0 = start_time();
    append(
        &admin,
        &blob_name("prod", t0 - Span::hours(1)),
        nodeport_line("prod", "c-1", "c1").as_bytes(),
        true,
    )
    .await;
    append(
        &admin,
        &blob_name("prod", t0 - Span::hours(6)),
        nodeport_line("prod", "c-0", "old").as_bytes(),
        true,
    )
    .await;
    let services = h.services();
    let mut live = driver(&h, &services, PollMode::Live).await;
    live.step().await.unwrap();
    assert_eq!(
        service_names(&services).await,
        ["c1"],
        "lookback is 3 hours"
    );
    let live_cursor = services
        .store
        .load_cursor(live.cursor_key())
        .await
        .unwrap()
        .unwrap();

    // The event times of the records are 2024-05-01T11:00; scan the morning.
    let range = TimeRange {
        since: t0 - Span::hours(7),
        until: t0 - Span::minutes(30),
    };
    let mut scan = driver(&h, &services, PollMode::Scan(range)).await;
    let mut finished = false;
    for _ in 0..10 {
        if scan.step().await.unwrap().progress == Progress::Finished {
            finished = true;
            break;
        }
    }
    assert!(finished);
    assert_eq!(service_names(&services).await, ["c1", "old"]);
    assert_eq!(
        services
            .store
            .load_cursor(live.cursor_key())
            .await
            .unwrap()
            .unwrap(),
        live_cursor
    );
}

#[tokio::test]
async fn azure_blob_healthcheck_names_a_missing_container() {
    let azurite = Azurite::start().await;
    let h = harness(&azurite, "");
    let services = h.services();
    let err = check_source(&h.settings.sources[0], &services)
        .await
        .unwrap_err();
    assert!(err.message.contains("does not exist"), "{err}");
    azurite.create_container(ADMIN).await;
    check_source(&h.settings.sources[0], &services)
        .await
        .unwrap();
    let mut s = source(&h, &services).await;
    s.healthcheck().await.unwrap();
}

#[tokio::test]
async fn azure_blob_a_wrong_account_key_is_refused_and_reported() {
    let azurite = Azurite::start().await;
    azurite.create_container(ADMIN).await;
    let h = Harness::new(&format!(
        "[[sources]]\ntype = \"azure_blob\"\nname = \"archive\"\naccount_url = \"{}\"\naccount_key = \"{}\"\n",
        azurite.account_url(),
        "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
    ));
    let services = h.services();
    let err = check_source(&h.settings.sources[0], &services)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("403") && err.message.contains("Storage Blob Data Reader"),
        "{err}"
    );
    assert!(!err.message.contains("d3Jvbmc"), "the key is never shown");
}

#[tokio::test]
async fn azure_blob_max_catchup_skips_old_hours_and_says_which() {
    use nodeport_watch::sources::azure_blob::{BlobCursor, BlobPosition};
    let h = Harness::new(
        "[[sources]]\ntype = \"azure_blob\"\nname = \"archive\"\n\
         account_url = \"http://127.0.0.1:9/devstoreaccount1\"\ncredential = \"none\"\nmax_catchup = \"2h\"\n",
    );
    let services = h.services();
    let s = source(&h, &services).await;
    let t0 = start_time();
    let old = format!("{ADMIN}/{}", blob_name("prod", t0 - Span::hours(5)));
    let kept = format!("{ADMIN}/{}", blob_name("prod", t0 - Span::hours(1)));
    let mut cursor = BlobCursor {
        from_hour_ms: (t0 - Span::hours(10)).timestamp_millis(),
        blobs: [
            (old.clone(), BlobPosition::default()),
            (kept.clone(), BlobPosition::default()),
        ]
        .into_iter()
        .collect(),
    };
    let skipped = s
        .skip_backlog(&mut cursor, std::time::Duration::from_secs(7200), t0)
        .unwrap();
    assert_eq!(skipped.since, t0 - Span::hours(10));
    assert_eq!(skipped.until, t0 - Span::hours(2));
    assert_eq!(
        cursor.from_hour_ms,
        (t0 - Span::hours(2)).timestamp_millis()
    );
    assert!(!cursor.blobs.contains_key(&old) && cursor.blobs.contains_key(&kept));
    assert!(
        s.skip_backlog(&mut cursor, std::time::Duration::from_secs(7200), t0)
            .is_none()
    );
}
