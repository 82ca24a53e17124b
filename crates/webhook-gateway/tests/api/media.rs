//! Inbound media end to end: a customer's attachment arrives by webhook, the gateway's
//! fetcher downloads it from the simulator's Graph API, verifies it and stores it.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use testkit::TestProject;
use webhook_gateway::media::StoreLocation;
use webhook_gateway::startup::RunningApp;
use webhook_gateway::Application;
use whatsapp_simulator::{InboundMedia, InboundSpec, MediaFaults, SampleKind, SimulatorHandle};

use crate::helpers::{settings_for, APP_SECRET, PHONE_NUMBER_ID};

pub struct MediaSetup {
    pub project: TestProject,
    pub sim: SimulatorHandle,
    pub address: String,
    pub dir: PathBuf,
    _running: RunningApp,
}

/// A gateway with its media fetcher on, fetching from an in-process simulator that sends
/// it webhooks; files in a fresh directory.
pub async fn spawn_media() -> MediaSetup {
    service_runtime::telemetry::init_for_tests();
    let project = TestProject::new().await;
    let sim = whatsapp_simulator::Simulator::start(whatsapp_simulator::SimulatorConfig::for_tests(
        PHONE_NUMBER_ID,
        "test-access-token",
        APP_SECRET,
    ))
    .await
    .expect("simulator failed to start");
    let mut settings = settings_for(&project);
    settings.sending.graph.base_url = sim.graph_url();
    settings.media.fetcher = true;
    let StoreLocation::Directory(dir) = settings.media.store.clone() else {
        panic!("tests store media in a directory")
    };
    let running = Application::build(settings)
        .expect("gateway failed to build")
        .spawn();
    let address = format!("http://127.0.0.1:{}", running.port);
    sim.set_webhook_url(format!("{address}/webhooks/whatsapp"))
        .unwrap();
    MediaSetup {
        project,
        sim,
        address,
        dir,
        _running: running,
    }
}

impl MediaSetup {
    /// Injects an attachment of `kind`; answers the message id and Meta's media id once
    /// the message is stored.
    pub async fn inject(&self, from: &str, media: InboundMedia) -> (String, String) {
        let injected = self
            .sim
            .inject(InboundSpec::media(from, media))
            .await
            .unwrap();
        assert_eq!(injected.status_code_from_gateway, Some(200));
        let sql = format!(
            "select id::text || ' ' || (metadata -> 'content' -> 'media' ->> 'id') from public.messages where wa_message_id = '{}'",
            injected.wamid
        );
        let row: String = self.project.value(&sql).await;
        let (id, media_id) = row.split_once(' ').unwrap();
        (id.to_owned(), media_id.to_owned())
    }

    /// Waits until the message's `metadata.media.status` is set; answers it.
    pub async fn media_status(&self, message_id: &str) -> String {
        let sql = format!(
            "select coalesce(metadata -> 'media' ->> 'status', '') from public.messages where id = '{message_id}'"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let status: String = self.project.value(&sql).await;
            if !status.is_empty() || tokio::time::Instant::now() > deadline {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn text(&self, sql: &str) -> String {
        self.project.value(sql).await
    }

    pub fn stored_file(&self, message_id: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join("messages").join(message_id)).ok()
    }
}

#[tokio::test]
async fn a_photo_a_voice_note_and_a_pdf_are_fetched_verified_and_stored_under_their_message() {
    let t = spawn_media().await;
    let mut document = InboundMedia::new(SampleKind::Document);
    document.filename = Some("factura.pdf".into());
    for (media, mime) in [
        (InboundMedia::new(SampleKind::Image), "image/png"),
        (
            InboundMedia::new(SampleKind::Voice),
            "audio/ogg; codecs=opus",
        ),
        (document, "application/pdf"),
    ] {
        let (message_id, media_id) = t.inject("34600555001", media).await;
        assert_eq!(t.media_status(&message_id).await, "stored", "{mime}");
        let expected = t.sim.media_bytes(&media_id).unwrap();
        assert_eq!(
            t.stored_file(&message_id).as_deref(),
            Some(&expected[..]),
            "the stored bytes are the customer's ({mime})"
        );
        let row = t
            .text(&format!(
                "select media_url || ' ' || (metadata -> 'media' ->> 'mime_type') || ' ' || (metadata -> 'media' ->> 'file_size')
                   from public.messages where id = '{message_id}'"
            ))
            .await;
        assert_eq!(
            row,
            format!("messages/{message_id} {mime} {}", expected.len()),
            "media_url names the object; metadata keeps type and size"
        );
        if mime == "application/pdf" {
            let name = t
                .text(&format!("select metadata -> 'media' ->> 'file_name' from public.messages where id = '{message_id}'"))
                .await;
            assert_eq!(name, "factura.pdf");
        }
    }
}

#[tokio::test]
async fn server_errors_and_an_expired_url_are_retried_until_the_file_is_stored() {
    let t = spawn_media().await;
    t.sim.set_media_faults(MediaFaults {
        server_errors: 2,
        expired_urls: 1,
        wrong_hashes: 0,
    });
    let (message_id, media_id) = t
        .inject("34600555002", InboundMedia::new(SampleKind::Image))
        .await;
    assert_eq!(t.media_status(&message_id).await, "stored");
    assert_eq!(
        t.stored_file(&message_id).as_deref(),
        Some(&t.sim.media_bytes(&media_id).unwrap()[..])
    );
    let attempts: i32 = t
        .project
        .value(&format!(
            "select attempts from svc.media_fetches where message_id = '{message_id}'"
        ))
        .await;
    assert_eq!(attempts, 4, "two 5xx, one expired URL, then the download");
    let stats = t.sim.media_stats();
    assert_eq!((stats.downloads, stats.refused), (1, 3), "{stats:?}");
}

#[tokio::test]
async fn bytes_that_never_match_their_hash_are_not_stored_and_the_message_says_why() {
    let t = spawn_media().await;
    t.sim.set_media_faults(MediaFaults {
        wrong_hashes: 100,
        ..MediaFaults::default()
    });
    let (message_id, _) = t
        .inject("34600555003", InboundMedia::new(SampleKind::Image))
        .await;
    assert_eq!(t.media_status(&message_id).await, "failed");
    let code = t
        .text(&format!("select metadata -> 'media' -> 'error' ->> 'code' from public.messages where id = '{message_id}'"))
        .await;
    assert_eq!(code, "media_hash_mismatch");
    assert_eq!(t.stored_file(&message_id), None, "nothing was stored");
    let media_url: Option<String> = t
        .project
        .value(&format!(
            "select media_url from public.messages where id = '{message_id}'"
        ))
        .await;
    assert_eq!(media_url, None);
    assert_eq!(
        t.sim.media_stats().downloads,
        2,
        "MEDIA_HASH_ATTEMPTS downloads (2 in tests)"
    );
}

#[tokio::test]
async fn media_meta_no_longer_has_fails_visibly_on_the_message() {
    let t = spawn_media().await;
    let body = serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID },
            "contacts": [{ "profile": { "name": "Cliente" }, "wa_id": "34600555004" }],
            "messages": [{ "from": "34600555004", "id": "wamid.media.gone", "timestamp": time::OffsetDateTime::now_utc().unix_timestamp().to_string(),
                           "type": "image", "image": { "id": "9999999", "mime_type": "image/jpeg", "sha256": "x" } }]
        }}]}]
    }))
    .unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{}/webhooks/whatsapp", t.address))
        .header("content-type", "application/json")
        .header(
            "X-Hub-Signature-256",
            whatsapp::sign(APP_SECRET.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let message_id = t
        .text("select id::text from public.messages where wa_message_id = 'wamid.media.gone'")
        .await;
    assert_eq!(t.media_status(&message_id).await, "failed");
    let error = t
        .text(&format!("select (metadata -> 'media' -> 'error')::text from public.messages where id = '{message_id}'"))
        .await;
    let error: serde_json::Value = serde_json::from_str(&error).unwrap();
    assert_eq!(error["code"], "media_unavailable");
    assert_eq!(error["title"], "WhatsApp no longer has this attachment");
    assert!(
        error["details"].as_str().unwrap().contains("400"),
        "{error}"
    );
}
