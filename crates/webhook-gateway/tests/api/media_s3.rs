//! The media store's S3 path against a real S3-compatible server: moto's (PyPI
//! `moto[server]`, installed into tools/moto/venv by `cargo xtask stack start`).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use testkit::layout::Layout;
use webhook_gateway::media::StoreLocation;
use webhook_gateway::Application;
use whatsapp_simulator::{InboundMedia, SampleKind};

use crate::helpers::{settings_for, APP_SECRET, PHONE_NUMBER_ID};

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_moto() -> (Moto, String) {
    let bin = Layout::discover().moto_server();
    assert!(
        bin.exists(),
        "{} is missing: run `cargo xtask stack start` (it installs moto's S3 server)",
        bin.display()
    );
    let port = free_port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server did not start");
    let moto = Moto(child);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // Creating the bucket is also the readiness check.
    loop {
        if let Ok(r) = http.put(format!("{url}/chatcentralize-media")).send().await {
            assert!(
                r.status().is_success(),
                "creating the bucket: {}",
                r.status()
            );
            return (moto, url);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "moto_server did not answer"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn media_are_fetched_into_an_s3_bucket_and_served_from_it_with_ranges() {
    let (_moto, endpoint) = start_moto().await;
    // What a deployment sets for Supabase Storage's S3 endpoint, here moto's.
    for (k, v) in [
        ("AWS_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ] {
        std::env::set_var(k, v);
    }
    service_runtime::telemetry::init_for_tests();
    let project = testkit::TestProject::new().await;
    let sim = whatsapp_simulator::Simulator::start(whatsapp_simulator::SimulatorConfig::for_tests(
        PHONE_NUMBER_ID,
        "test-access-token",
        APP_SECRET,
    ))
    .await
    .unwrap();
    let mut settings = settings_for(&project);
    settings.sending.graph.base_url = sim.graph_url();
    settings.media.fetcher = true;
    settings.media.store = StoreLocation::parse("s3://chatcentralize-media/inbox").unwrap();
    let key =
        webhook_gateway::media::links::LinkKey::new(settings.media.link_secret.clone().unwrap());
    let running = Application::build(settings).unwrap().spawn();
    let address = format!("http://127.0.0.1:{}", running.port);
    sim.set_webhook_url(format!("{address}/webhooks/whatsapp"))
        .unwrap();

    let mut video = InboundMedia::new(SampleKind::Video);
    video.size = Some(6 * 1024 * 1024); // more than one 5 MB part
    let injected = sim
        .inject(whatsapp_simulator::InboundSpec::media("34600555030", video))
        .await
        .unwrap();
    let sql = format!("select id::text || ' ' || (metadata -> 'content' -> 'media' ->> 'id') from public.messages where wa_message_id = '{}'", injected.wamid);
    let row: String = project.value(&sql).await;
    let (message_id, media_id) = row.split_once(' ').unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status: Option<String> = project
            .value(&format!("select metadata -> 'media' ->> 'status' from public.messages where id = '{message_id}'"))
            .await;
        match status.as_deref() {
            Some("stored") => break,
            Some(other) => panic!("the video ended {other}"),
            None => assert!(tokio::time::Instant::now() < deadline, "not stored in time"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The object is in the bucket, under the prefix (read with moto's plain S3 API).
    let http = reqwest::Client::new();
    let listing = http
        .get(format!(
            "{endpoint}/chatcentralize-media?list-type=2&prefix=inbox/messages/"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listing.contains(&format!("<Key>inbox/messages/{message_id}</Key>")),
        "{listing}"
    );

    let expected = sim.media_bytes(media_id).unwrap();
    let id: uuid::Uuid = message_id.parse().unwrap();
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 60;
    let url = format!("{address}/media/{id}?exp={exp}&sig={}", key.sign(id, exp));
    let whole = http.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    assert_eq!(whole.bytes().await.unwrap(), expected);
    let part = http
        .get(&url)
        .header("Range", "bytes=5242870-5242889")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.bytes().await.unwrap(),
        expected.slice(5_242_870..5_242_890)
    );
}
