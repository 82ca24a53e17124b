use std::path::PathBuf;

use sending::graph::GraphSettings;
use sending::SendingSettings;
use serde_json::{json, Value};
use service_runtime::Secret;
use svc_client::{ProjectUrl, SupabaseSettings};
use testkit::TestProject;
use webhook_gateway::media::StoreLocation;
use webhook_gateway::{Application, Settings};

pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
/// The business number of Meta's documented examples (the fixtures use it).
pub const PHONE_NUMBER_ID: &str = "106540352242922";

pub struct TestGateway {
    pub project: TestProject,
    /// The public listener: webhooks and /healthz.
    pub address: String,
    /// The admin listener: /readyz, /metrics and /healthz.
    pub admin_address: String,
    pub http: reqwest::Client,
}

/// The test settings: sender off, Graph API at a closed port until a test points it at
/// a simulator.
pub fn settings_for(project: &TestProject) -> Settings {
    let supabase = SupabaseSettings {
        url: ProjectUrl::parse(&project.supabase_url()).unwrap(),
        service_role_key: Secret::new(project.service_role_key()),
    };
    let graph =
        GraphSettings::for_tests("http://127.0.0.1:9", PHONE_NUMBER_ID, "test-access-token");
    let mut settings = Settings::for_tests(
        supabase,
        SendingSettings::for_tests(graph),
        APP_SECRET,
        VERIFY_TOKEN,
    );
    // Stored media go with the project.
    settings.media.store = StoreLocation::Directory(project.scratch_dir().join("media"));
    settings
}

pub async fn spawn_gateway() -> TestGateway {
    service_runtime::telemetry::init_for_tests();
    let project = TestProject::new().await;
    let app = Application::build(settings_for(&project)).expect("gateway failed to build");
    let running = app.spawn();
    TestGateway {
        project,
        address: format!("http://127.0.0.1:{}", running.port),
        admin_address: format!("http://127.0.0.1:{}", running.admin_port),
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

    /// GET on the public listener.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    /// GET on the admin listener.
    pub async fn get_admin(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.admin_address))
            .send()
            .await
            .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.project.value(sql).await
    }

    pub async fn text(&self, sql: &str) -> Option<String> {
        self.project.value(sql).await
    }

    /// Waits until the gateway's applier has applied every status-only webhook it
    /// acknowledged (none pending in the journal).
    pub async fn queued_statuses_applied(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self
            .count("select count(*) from svc.webhook_journal where outcome = 'pending'")
            .await
            > 0
        {
            assert!(
                std::time::Instant::now() < deadline,
                "queued status webhooks still pending after 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
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

/// A gateway with its sender on, wired to an in-process WhatsApp simulator both ways.
pub struct SendingSetup {
    pub gateway: TestGateway,
    pub sim: whatsapp_simulator::SimulatorHandle,
    pub running: Option<webhook_gateway::startup::RunningApp>,
}

pub async fn spawn_with_simulator(max_mps: u32) -> SendingSetup {
    service_runtime::telemetry::init_for_tests();
    let project = TestProject::new().await;
    let sim = whatsapp_simulator::Simulator::start(whatsapp_simulator::SimulatorConfig::for_tests(
        PHONE_NUMBER_ID,
        "test-access-token",
        APP_SECRET,
    ))
    .await
    .expect("simulator failed to start");
    sim.set_max_mps(Some(max_mps));
    let running = start_sender(&project, &sim, max_mps);
    sim.set_webhook_url(format!(
        "http://127.0.0.1:{}/webhooks/whatsapp",
        running.port
    ))
    .unwrap();
    SendingSetup {
        gateway: TestGateway {
            project,
            address: format!("http://127.0.0.1:{}", running.port),
            admin_address: format!("http://127.0.0.1:{}", running.admin_port),
            http: reqwest::Client::new(),
        },
        sim,
        running: Some(running),
    }
}

impl SendingSetup {
    /// A conversation whose customer wrote `minutes_ago` (the simulator knows it too, so
    /// its 24-hour window matches the database's). Returns the conversation id.
    pub async fn conversation(&self, phone: &str, minutes_ago: i64) -> String {
        let (_, conversation) = seed_conversation(&self.gateway.project, phone, minutes_ago).await;
        let at = time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes_ago);
        self.sim.set_last_inbound(phone, at).unwrap();
        conversation
    }
}

/// Another gateway process (same project and simulator), sender on.
pub fn start_sender(
    project: &TestProject,
    sim: &whatsapp_simulator::SimulatorHandle,
    max_mps: u32,
) -> webhook_gateway::startup::RunningApp {
    let mut settings = settings_for(project);
    settings.sending.graph.base_url = sim.graph_url();
    settings.sending.max_mps = max_mps;
    settings.outbound_sender = true;
    Application::build(settings)
        .expect("gateway failed to build")
        .spawn()
}

/// Seeds an agent and a contact who wrote `minutes_ago`, with an open conversation.
/// Returns (agent id, conversation id).
pub async fn seed_conversation(
    project: &TestProject,
    phone: &str,
    minutes_ago: i64,
) -> (String, String) {
    let db = project.db().await;
    db.execute(
        "insert into auth.users (id, email, raw_app_meta_data)
         values ('00000000-0000-0000-0000-00000000a001', 'agent@test.local', '{\"role\":\"agent\"}')
         on conflict do nothing",
        &[],
    )
    .await
    .unwrap();
    let row = db
        .query_one(
            "with k as (insert into public.contacts (phone, wa_id, full_name) values ($1, $1, 'Cliente') returning id),
                  c as (insert into public.conversations (contact_id, assigned_agent_id)
                        select id, '00000000-0000-0000-0000-00000000a001' from k returning id, contact_id)
             insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, created_at, wa_message_id)
             select c.id, 'contact', c.contact_id, 'hola', 'text', 'delivered', now() - make_interval(mins => $2::int), 'wamid.in.' || $1
               from c returning conversation_id::text",
            &[&phone, &(minutes_ago as i32)],
        )
        .await
        .unwrap();
    ("00000000-0000-0000-0000-00000000a001".into(), row.get(0))
}

/// An approved template (`message_templates` with its WhatsApp name and language, and
/// the parameter layout); returns its id.
pub async fn approved_template(
    project: &TestProject,
    wa_name: &str,
    language: &str,
    content: &str,
    parameters: Value,
) -> String {
    let db = project.db().await;
    let row = db
        .query_one(
            "insert into public.message_templates (name, content, wa_template_name, language_code, parameters)
             values ($1, $2, $1, $3, $4::jsonb) returning id::text",
            &[&wa_name, &content, &language, &parameters],
        )
        .await
        .unwrap();
    row.get(0)
}

/// An agent's reply as the frontend writes it (pending); returns the message id. `extra`
/// may carry `media_url`, `metadata` and `template_id`.
pub async fn queue_reply(
    project: &TestProject,
    conversation_id: &str,
    message_type: &str,
    content: &str,
    extra: Value,
) -> String {
    let db = project.db().await;
    let row = db
        .query_one(
            "insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, media_url, metadata, template_id)
             values ($1::text::uuid, 'agent', '00000000-0000-0000-0000-00000000a001', $2, $3, 'pending', $4::jsonb->>'media_url', $4::jsonb->'metadata',
                     ($4::jsonb->>'template_id')::uuid)
             returning id::text",
            &[&conversation_id, &content, &message_type, &extra],
        )
        .await
        .unwrap();
    row.get(0)
}

/// Another gateway process with its sender on, its settings changed by `adjust`.
pub fn start_sender_with(
    project: &TestProject,
    sim: &whatsapp_simulator::SimulatorHandle,
    max_mps: u32,
    adjust: impl FnOnce(&mut Settings),
) -> webhook_gateway::startup::RunningApp {
    let mut settings = settings_for(project);
    settings.sending.graph.base_url = sim.graph_url();
    settings.sending.max_mps = max_mps;
    settings.outbound_sender = true;
    adjust(&mut settings);
    Application::build(settings)
        .expect("gateway failed to build")
        .spawn()
}

/// A gateway that only takes webhooks (sender off), and the simulator's status webhooks
/// pointed at it: webhooks keep arriving while sender processes die.
pub fn start_webhook_receiver(
    project: &TestProject,
    sim: &whatsapp_simulator::SimulatorHandle,
) -> webhook_gateway::startup::RunningApp {
    let receiver = Application::build(settings_for(project))
        .expect("gateway failed to build")
        .spawn();
    sim.set_webhook_url(format!(
        "http://127.0.0.1:{}/webhooks/whatsapp",
        receiver.port
    ))
    .unwrap();
    receiver
}

/// The held-outcome policy (`svc.held_outcome_policy`) for a test.
pub async fn set_hold_policy(project: &TestProject, hold_seconds: i32, grace_seconds: i32) {
    project
        .db()
        .await
        .execute(
            "update svc.held_outcome_policy set hold_seconds = $1, evidence_grace_seconds = $2",
            &[&hold_seconds, &grace_seconds],
        )
        .await
        .unwrap();
}
