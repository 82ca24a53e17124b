//! A fresh project (database + PostgREST) per test, an in-process WhatsApp simulator,
//! and broadcast workers built through the library on port 0.

use std::collections::HashMap;

use broadcast_worker::{Application, RunningWorker, Settings};
use sending::graph::GraphSettings;
use sending::SendingSettings;
use serde_json::{json, Value};
use service_runtime::Secret;
use svc_client::{ProjectUrl, SupabaseSettings};
use testkit::TestProject;
use whatsapp_simulator::{ReceivedMessage, Simulator, SimulatorConfig, SimulatorHandle};

pub const APP_SECRET: &str = "test-app-secret";
pub const ACCESS_TOKEN: &str = "test-access-token";
/// The business number of Meta's documented examples.
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const ADMIN_ID: &str = "00000000-0000-0000-0000-00000000ad01";

/// The test settings: sending to `sim` at `max_mps`.
pub fn settings_for(project: &TestProject, sim: &SimulatorHandle, max_mps: u32) -> Settings {
    let supabase = SupabaseSettings {
        url: ProjectUrl::parse(&project.supabase_url()).unwrap(),
        service_role_key: Secret::new(project.service_role_key()),
    };
    let graph = GraphSettings::for_tests(sim.graph_url(), PHONE_NUMBER_ID, ACCESS_TOKEN);
    let sending = SendingSettings {
        max_mps,
        ..SendingSettings::for_tests(graph)
    };
    Settings::for_tests(supabase, sending)
}

/// A project, a simulator limited to `max_mps`, and no worker yet.
pub struct TestWorld {
    pub project: TestProject,
    pub sim: SimulatorHandle,
    pub max_mps: u32,
    pub http: reqwest::Client,
}

pub async fn spawn_world(max_mps: u32) -> TestWorld {
    service_runtime::telemetry::init_for_tests();
    let project = TestProject::new().await;
    let sim = Simulator::start(SimulatorConfig::for_tests(
        PHONE_NUMBER_ID,
        ACCESS_TOKEN,
        APP_SECRET,
    ))
    .await
    .expect("simulator failed to start");
    sim.set_max_mps(Some(max_mps));
    let world = TestWorld {
        project,
        sim,
        max_mps,
        http: reqwest::Client::new(),
    };
    world.seed_admin_and_templates().await;
    world
}

impl TestWorld {
    /// A worker with the test settings.
    pub fn start_worker(&self) -> RunningWorker {
        self.start_worker_with(|_| {})
    }

    /// A worker with the test settings changed by `adjust`.
    pub fn start_worker_with(&self, adjust: impl FnOnce(&mut Settings)) -> RunningWorker {
        let mut settings = settings_for(&self.project, &self.sim, self.max_mps);
        adjust(&mut settings);
        Application::build(settings)
            .expect("worker failed to build")
            .spawn()
    }

    async fn seed_admin_and_templates(&self) {
        let db = self.project.db().await;
        db.batch_execute(&format!(
            "insert into auth.users (id, email, raw_app_meta_data)
               values ('{ADMIN_ID}', 'admin@test.local', '{{\"role\":\"admin\"}}') on conflict do nothing;
             insert into public.message_templates (name, content, wa_template_name, language_code, parameters)
               values ('VIP', 'Hola {{{{1}}}}, tenemos una oferta para ti', 'promo_vip', 'es', '[\"contact.full_name\"]'),
                      ('Hello', 'Hello world', 'hello_world', 'en_US', '[]')
               on conflict do nothing;"
        ))
        .await
        .unwrap();
    }

    /// `n` contacts with phones `<prefix><0000..>`, the given tags and status; returns
    /// their phones in order.
    pub async fn contacts(
        &self,
        prefix: &str,
        n: usize,
        tags: &[&str],
        status: &str,
        opted_out: bool,
    ) -> Vec<String> {
        let db = self.project.db().await;
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        let rows = db
            .query(
                "insert into public.contacts (phone, wa_id, full_name, tags, status, opted_out_at)
                 select $1 || lpad(i::text, 4, '0'), $1 || lpad(i::text, 4, '0'), 'Cliente ' || i, $2, $3,
                        case when $4 then now() end
                   from generate_series(0, $5 - 1) i
                 returning phone",
                &[&prefix, &tags, &status, &opted_out, &(n as i32)],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }

    /// A scheduled broadcast of `template` ('promo_vip' or 'hello_world') due in
    /// `in_secs` (negative: already due) for `audience`; returns its id.
    pub async fn schedule(&self, template: &str, audience: Value, in_secs: f64) -> String {
        self.project
            .db()
            .await
            .query_one(
                "insert into public.broadcast_messages (name, content, status, scheduled_for, created_by, template_id, audience)
                 select 'Oferta', t.content, 'scheduled', now() + make_interval(secs => $2), $3::text::uuid, t.id, $4
                   from public.message_templates t where t.wa_template_name = $1
                 returning id::text",
                &[&template, &in_secs, &ADMIN_ID, &audience],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// A broadcast to the contacts with these phones (explicit recipients), due now.
    pub async fn schedule_explicit(&self, template: &str, phones: &[String]) -> String {
        let id = self
            .schedule(template, json!({"type": "explicit"}), 3600.0)
            .await;
        let db = self.project.db().await;
        db.execute(
            "insert into public.broadcast_recipients (broadcast_id, contact_id)
             select $1::text::uuid, id from public.contacts where phone = any($2)",
            &[&id, &phones],
        )
        .await
        .unwrap();
        db.execute(
            "update public.broadcast_messages set scheduled_for = now() where id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
        id
    }

    /// A broadcast by tags, due now.
    pub async fn schedule_tags(&self, template: &str, tags: &[&str]) -> String {
        self.schedule(template, json!({"type": "tags", "tags": tags}), -1.0)
            .await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.project.value(sql).await
    }

    pub async fn text(&self, sql: &str) -> Option<String> {
        self.project.value(sql).await
    }

    /// Recipients of `broadcast` with `status`.
    pub async fn recipients(&self, broadcast: &str, status: &str) -> i64 {
        self.count(&format!(
            "select count(*) from public.broadcast_recipients where broadcast_id = '{broadcast}' and status = '{status}'"
        ))
        .await
    }

    /// Waits until the broadcast has `status`.
    pub async fn wait_for_status(&self, broadcast: &str, status: &str, secs: u64) {
        self.project.wait_for_count(
            &format!("select count(*) from public.broadcast_messages where id = '{broadcast}' and status = '{status}'"),
            1,
            secs,
        )
        .await;
    }

    pub async fn get(&self, port: u16, path: &str) -> reqwest::Response {
        self.http
            .get(format!("http://127.0.0.1:{port}{path}"))
            .send()
            .await
            .unwrap()
    }
}

/// How many times WhatsApp received each broadcast recipient (by callback data).
pub fn sends_per_recipient(received: &[ReceivedMessage]) -> HashMap<String, usize> {
    let mut per: HashMap<String, usize> = HashMap::new();
    for m in received {
        *per.entry(m.callback_data.clone().unwrap_or_default())
            .or_default() += 1;
    }
    per
}

/// Panics if any recipient reached WhatsApp twice.
pub fn assert_no_duplicates(received: &[ReceivedMessage]) {
    let per = sends_per_recipient(received);
    let twice: Vec<_> = per.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "recipients sent more than once: {twice:?}"
    );
    let mut by_phone: HashMap<&str, usize> = HashMap::new();
    for m in received {
        *by_phone.entry(m.wa_id.as_str()).or_default() += 1;
    }
    assert!(
        by_phone.values().all(|n| *n == 1),
        "a phone received the broadcast twice"
    );
}
