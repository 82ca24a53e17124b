use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::{json, Value};
use service_runtime::Secret;
use std::time::Duration;
use svc_client::{ProjectUrl, SupabaseSettings};
use testkit::TestProject;
use webhook_gateway::config::OutboundSettings;
use webhook_gateway::{Application, Settings};

pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
/// The business number of Meta's documented examples (the fixtures use it).
pub const PHONE_NUMBER_ID: &str = "106540352242922";

pub struct TestGateway {
    pub project: TestProject,
    pub address: String,
    pub http: reqwest::Client,
}

pub fn settings_for(project: &TestProject) -> Settings {
    Settings {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        supabase: SupabaseSettings {
            url: ProjectUrl::parse(&project.supabase_url()).unwrap(),
            service_role_key: Secret::new(project.service_role_key()),
        },
        app_secret: Secret::new(APP_SECRET),
        verify_token: Secret::new(VERIFY_TOKEN),
        access_token: Secret::new("test-access-token"),
        phone_number_id: PHONE_NUMBER_ID.into(),
        graph_url: "http://127.0.0.1:9".into(),
        api_version: "v23.0".into(),
        max_mps: 80,
        outbound: OutboundSettings {
            enabled: false,
            lease_seconds: 30,
            request_timeout: Duration::from_secs(2),
            max_retry_age: Duration::from_secs(3600),
            probe_seconds: 1,
        },
    }
}

pub async fn spawn_gateway() -> TestGateway {
    service_runtime::telemetry::init_for_tests();
    let project = TestProject::new().await;
    let app = Application::build(settings_for(&project)).expect("gateway failed to build");
    let port = app.spawn().port;
    TestGateway {
        project,
        address: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
    }
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../whatsapp/tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub fn fixture_names() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../whatsapp/tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

impl TestGateway {
    pub async fn post_signed(&self, body: &[u8]) -> reqwest::Response {
        let signature = whatsapp::sign(APP_SECRET.as_bytes(), body);
        self.post_with_signature(body, Some(&signature)).await
    }

    pub async fn post_with_signature(
        &self,
        body: &[u8],
        signature: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/webhooks/whatsapp", self.address))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        request.send().await.expect("gateway unreachable")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.project
            .db()
            .await
            .query_one(sql, &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    }

    pub async fn text(&self, sql: &str) -> Option<String> {
        self.project
            .db()
            .await
            .query_one(sql, &[])
            .await
            .unwrap()
            .get::<_, Option<String>>(0)
    }
}

/// A text message webhook from `from` with a unique wamid.
pub fn text_webhook(wamid: &str, from: &str, body: &str, timestamp: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID },
            "contacts": [{ "profile": { "name": "Cliente" }, "wa_id": from }],
            "messages": [{ "from": from, "id": wamid, "timestamp": timestamp.to_string(), "type": "text", "text": { "body": body } }]
        }}]}]
    }))
    .unwrap()
}

/// A status webhook for `wamid`.
pub fn status_webhook(wamid: &str, status: &str, timestamp: i64, errors: Option<Value>) -> Vec<u8> {
    let mut item = json!({ "id": wamid, "status": status, "timestamp": timestamp.to_string(), "recipient_id": "34600111222" });
    if let Some(errors) = errors {
        item["errors"] = errors;
    }
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID },
            "statuses": [item]
        }}]}]
    }))
    .unwrap()
}
