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
    spawn_media_with(false).await
}

/// As [`spawn_media`], with the outbound sender on too (sending to the simulator).
pub async fn spawn_media_with(outbound_sender: bool) -> MediaSetup {
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
    settings.outbound_sender = outbound_sender;
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

/// An active agent (a profile made by the auth.users trigger); answers their id.
pub(crate) async fn agent(t: &MediaSetup, id: &str, email: &str) -> uuid::Uuid {
    t.project
        .db()
        .await
        .execute(
            &format!("insert into auth.users (id, email, raw_app_meta_data) values ('{id}', '{email}', '{{\"role\":\"agent\"}}')"),
            &[],
        )
        .await
        .unwrap();
    id.parse().unwrap()
}

pub(crate) async fn assign(t: &MediaSetup, message_id: &str, agent: uuid::Uuid) {
    t.project
        .db()
        .await
        .execute(
            &format!("update public.conversations set assigned_agent_id = '{agent}' where id = (select conversation_id from public.messages where id = '{message_id}')"),
            &[],
        )
        .await
        .unwrap();
}

/// `public.media_link` through PostgREST as `user`: the answer's status and body.
async fn mint(t: &MediaSetup, user: uuid::Uuid, message_id: &str) -> (u16, serde_json::Value) {
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/rest/v1/rpc/media_link",
            t.project.supabase_url()
        ))
        .header("apikey", t.project.anon_key())
        .bearer_auth(t.project.keys().user_token(user))
        .json(&json!({ "p_message_id": message_id }))
        .send()
        .await
        .unwrap();
    (
        answer.status().as_u16(),
        answer.json().await.unwrap_or_default(),
    )
}

pub(crate) fn link_key() -> webhook_gateway::media::links::LinkKey {
    let settings = webhook_gateway::media::MediaSettings::for_tests(PathBuf::new());
    webhook_gateway::media::links::LinkKey::new(settings.link_secret.unwrap())
}

#[tokio::test]
async fn a_link_minted_for_the_assigned_agent_streams_the_file_with_ranges() {
    let t = spawn_media().await;
    let a = agent(&t, "00000000-0000-0000-0000-00000000a101", "a@test.local").await;
    let mut pdf = InboundMedia::new(SampleKind::Document);
    pdf.filename = Some("factura.pdf".into());
    let (photo, photo_media) = t
        .inject("34600555010", InboundMedia::new(SampleKind::Image))
        .await;
    let (document, _) = t.inject("34600555010", pdf).await;
    assert_eq!(t.media_status(&photo).await, "stored");
    assert_eq!(t.media_status(&document).await, "stored");
    assign(&t, &photo, a).await;
    let bytes = t.sim.media_bytes(&photo_media).unwrap();
    let size = bytes.len();

    let (status, link) = mint(&t, a, &photo).await;
    assert_eq!(status, 200, "{link}");
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/media/{photo}?exp=", t.address)),
        "{url}"
    );
    let http = reqwest::Client::new();
    let whole = http.get(url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "image/png");
    assert_eq!(whole.headers()["content-length"], size.to_string().as_str());
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["content-disposition"], "inline");
    assert_eq!(whole.bytes().await.unwrap(), bytes);

    let part = http
        .get(url)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 10-19/{size}").as_str()
    );
    assert_eq!(part.bytes().await.unwrap(), bytes.slice(10..20));
    let tail = http
        .get(url)
        .header("Range", "bytes=-7")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap(), bytes.slice(size - 7..));
    let past = http
        .get(url)
        .header("Range", format!("bytes={size}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );

    let (status, link) = mint(&t, a, &document).await;
    assert_eq!(status, 200, "{link}");
    let pdf = http
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert_eq!(
        pdf.headers()["content-disposition"],
        "attachment; filename=\"factura.pdf\"; filename*=UTF-8''factura.pdf"
    );
}

#[tokio::test]
async fn forged_expired_and_foreign_links_are_refused_and_fileless_messages_are_404() {
    let t = spawn_media().await;
    let a = agent(&t, "00000000-0000-0000-0000-00000000a102", "a2@test.local").await;
    let b = agent(&t, "00000000-0000-0000-0000-00000000a103", "b2@test.local").await;
    let (photo, _) = t
        .inject("34600555011", InboundMedia::new(SampleKind::Image))
        .await;
    assert_eq!(t.media_status(&photo).await, "stored");
    assign(&t, &photo, a).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let address = t.address.clone();
        async move {
            http.get(format!("{address}{path}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let id: uuid::Uuid = photo.parse().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let key = link_key();

    // The test's key is the gateway's: a fresh link with it is served.
    let exp = now + 60;
    assert_eq!(
        get(format!("/media/{id}?exp={exp}&sig={}", key.sign(id, exp))).await,
        200
    );
    // Expired.
    let old = now - 1;
    assert_eq!(
        get(format!("/media/{id}?exp={old}&sig={}", key.sign(id, old))).await,
        403
    );
    // Forged: another expiry, another message, a tampered or missing signature.
    let sig = key.sign(id, exp);
    assert_eq!(
        get(format!("/media/{id}?exp={}&sig={sig}", exp + 3600)).await,
        403
    );
    let other = uuid::Uuid::new_v4();
    assert_eq!(
        get(format!("/media/{other}?exp={exp}&sig={sig}")).await,
        403
    );
    let tampered = format!(
        "{}{}",
        &sig[..63],
        if sig.ends_with('0') { '1' } else { '0' }
    );
    assert_eq!(
        get(format!("/media/{id}?exp={exp}&sig={tampered}")).await,
        403
    );
    assert_eq!(get(format!("/media/{id}?exp={exp}")).await, 403);
    assert_eq!(get(format!("/media/{id}")).await, 403);
    assert_eq!(get("/media/not-a-uuid?exp=1&sig=00".into()).await, 403);
    // A valid link to a message with no stored file.
    assert_eq!(
        get(format!(
            "/media/{other}?exp={exp}&sig={}",
            key.sign(other, exp)
        ))
        .await,
        404
    );

    // Agent B can't mint a link to agent A's attachment; once the conversation is theirs
    // they can, and agent A no longer.
    let (status, _) = mint(&t, b, &photo).await;
    assert_ne!(status, 200);
    assign(&t, &photo, b).await;
    assert_eq!(mint(&t, b, &photo).await.0, 200);
    assert_ne!(mint(&t, a, &photo).await.0, 200);
}

#[tokio::test]
async fn erasing_a_contact_deletes_their_stored_media() {
    let t = spawn_media().await;
    let (photo, _) = t
        .inject("34600555020", InboundMedia::new(SampleKind::Image))
        .await;
    let (voice, _) = t
        .inject("34600555020", InboundMedia::new(SampleKind::Voice))
        .await;
    let (other, _) = t
        .inject("34600555021", InboundMedia::new(SampleKind::Image))
        .await;
    for id in [&photo, &voice, &other] {
        assert_eq!(t.media_status(id).await, "stored");
        assert!(t.stored_file(id).is_some());
    }
    let admin: uuid::Uuid = "00000000-0000-0000-0000-00000000e001".parse().unwrap();
    t.project
        .db()
        .await
        .execute(
            &format!("insert into auth.users (id, email, raw_app_meta_data) values ('{admin}', 'admin@test.local', '{{\"role\":\"admin\"}}')"),
            &[],
        )
        .await
        .unwrap();
    let contact = t
        .text(&format!("select c.contact_id::text from public.messages m join public.conversations c on c.id = m.conversation_id where m.id = '{photo}'"))
        .await;
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/rest/v1/rpc/erase_contact",
            t.project.supabase_url()
        ))
        .header("apikey", t.project.anon_key())
        .bearer_auth(t.project.keys().user_token(admin))
        .json(&json!({ "p_contact_id": contact }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while t.stored_file(&photo).is_some() || t.stored_file(&voice).is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the erased contact's media are still stored"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(!t
        .dir
        .join("messages")
        .join(format!("{photo}.json"))
        .exists());
    assert!(
        t.stored_file(&other).is_some(),
        "another customer's media stay"
    );
}
