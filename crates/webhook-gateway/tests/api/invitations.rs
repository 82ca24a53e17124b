//! Invitations: an admin inserts one through Supabase (their own token, RLS); the gateway
//! asks Auth (here the test kit's recorded stand-in of `POST /auth/v1/invite`) to send the
//! email with the service-role key, once, and records the outcome an admin can read.

use std::time::Duration;

use serde_json::{json, Value};
use svc_client::ProjectUrl;
use testkit::{AuthStandIn, AuthStandInConfig, AuthStandInHandle, TestProject};
use webhook_gateway::startup::RunningApp;
use webhook_gateway::Application;

use crate::helpers::settings_for;

const ADMIN_ID: &str = "00000000-0000-4000-9000-00000000ad01";

struct Invitations {
    project: TestProject,
    auth: AuthStandInHandle,
    _gateway: RunningApp,
    http: reqwest::Client,
}

async fn spawn_with_auth() -> Invitations {
    service_runtime::telemetry::init_for_tests();
    let project = TestProject::new().await;
    project
        .db()
        .await
        .execute(
            &format!(
                "insert into auth.users (id, email, email_confirmed_at, raw_app_meta_data)
                 values ('{ADMIN_ID}', 'admin@test.local', now(), '{{\"role\": \"admin\"}}')"
            ),
            &[],
        )
        .await
        .unwrap();
    let auth = AuthStandIn::start(AuthStandInConfig::for_tests(project.keys()))
        .await
        .expect("the Auth stand-in failed to start");
    let mut settings = settings_for(&project);
    settings.invitations.enabled = true;
    settings.invitations.auth_url = ProjectUrl::parse(&auth.url()).unwrap();
    let gateway = Application::build(settings)
        .expect("gateway failed to build")
        .spawn();
    Invitations {
        project,
        auth,
        _gateway: gateway,
        http: reqwest::Client::new(),
    }
}

impl Invitations {
    /// As the admin's frontend does: `from('invitations').insert({email, role})`.
    async fn invite_as_admin(&self, email: &str, role: &str) -> String {
        let token = self.project.keys().user_token(ADMIN_ID.parse().unwrap());
        let response = self
            .http
            .post(format!(
                "{}/rest/v1/invitations",
                self.project.supabase_url()
            ))
            .header("apikey", self.project.anon_key())
            .header("Authorization", format!("Bearer {token}"))
            .header("Prefer", "return=representation")
            .json(&json!({ "email": email, "role": role }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        body[0]["id"].as_str().unwrap().to_owned()
    }

    /// As the admin's frontend reads it: `from('invitations').select(...).eq('id', id)`.
    async fn read_as_admin(&self, id: &str) -> Value {
        let token = self.project.keys().user_token(ADMIN_ID.parse().unwrap());
        let body: Value = self
            .http
            .get(format!(
                "{}/rest/v1/invitations?id=eq.{id}&select=email,role,status,attempts,last_error,sent_at,next_attempt_at",
                self.project.supabase_url()
            ))
            .header("apikey", self.project.anon_key())
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body[0].clone()
    }

    async fn wait_for_status(&self, id: &str, status: &str) {
        self.project
            .wait_for_count(
                &format!(
                "select count(*) from public.invitations where id = '{id}' and status = '{status}'"
            ),
                1,
                10,
            )
            .await;
    }
}

#[tokio::test]
async fn an_invitation_an_admin_inserts_is_sent_once_through_auth_with_the_service_role_key() {
    let t = spawn_with_auth().await;
    let id = t
        .invite_as_admin("Nueva.Agente@example.test", "admin")
        .await;
    t.wait_for_status(&id, "sent").await;

    // A few more polls: nothing is sent again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = t.auth.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let service_role_key = t.project.service_role_key();
    assert_eq!(
        received[0].email.as_deref(),
        Some("Nueva.Agente@example.test")
    );
    assert_eq!(
        received[0].apikey.as_deref(),
        Some(service_role_key.as_str())
    );
    assert_eq!(
        received[0].authorization.as_deref(),
        Some(format!("Bearer {service_role_key}").as_str())
    );
    assert_eq!(received[0].status, 200);

    let seen = t.read_as_admin(&id).await;
    assert_eq!(seen["status"], "sent");
    assert_eq!(seen["attempts"], 1);
    assert_eq!(seen["last_error"], Value::Null);
    assert!(seen["sent_at"].is_string(), "{seen}");
}

#[tokio::test]
async fn an_invitation_auth_cannot_take_now_is_retried_and_then_sent() {
    let t = spawn_with_auth().await;
    t.auth.fail_next(&[503]);
    let id = t.invite_as_admin("carla@example.test", "agent").await;
    t.wait_for_status(&id, "sent").await;

    let received = t.auth.received();
    let statuses: Vec<u16> = received.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 200]);
    let seen = t.read_as_admin(&id).await;
    assert_eq!(seen["attempts"], 2);
    assert_eq!(seen["last_error"], Value::Null);
}

#[tokio::test]
async fn an_invitation_auth_refuses_fails_at_once_with_the_error_visible_to_admins() {
    let t = spawn_with_auth().await;
    t.auth.register_confirmed("taken@example.test");
    let id = t.invite_as_admin("taken@example.test", "agent").await;
    t.wait_for_status(&id, "failed").await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        t.auth.received().len(),
        1,
        "a permanent error is never retried"
    );
    let seen = t.read_as_admin(&id).await;
    assert_eq!(seen["attempts"], 1);
    assert_eq!(
        seen["last_error"],
        "HTTP 422: A user with this email address has already been registered"
    );
    assert_eq!(seen["next_attempt_at"], Value::Null);
}

#[tokio::test]
async fn an_invitation_whose_retries_run_out_fails_with_the_last_error() {
    let t = spawn_with_auth().await;
    t.auth.fail_next(&[500, 502, 500]);
    let id = t.invite_as_admin("luis@example.test", "agent").await;
    t.wait_for_status(&id, "failed").await;

    assert_eq!(t.auth.received().len(), 3, "max_attempts is 3 in tests");
    let seen = t.read_as_admin(&id).await;
    assert_eq!(seen["attempts"], 3);
    assert_eq!(
        seen["last_error"],
        "gave up after 3 attempts; last error: HTTP 500: Error inviting user"
    );
}

#[tokio::test]
async fn an_unreachable_auth_leaves_the_invitation_pending_with_the_reason() {
    let t = spawn_with_auth().await;
    t.auth.stop().await;
    let id = t.invite_as_admin("rosa@example.test", "agent").await;
    t.project.wait_for_count(&format!("select count(*) from public.invitations where id = '{id}' and last_error like 'Auth unreachable%'"),
        1,
        10,
    )
    .await;
    let seen = t.read_as_admin(&id).await;
    assert!(
        seen["status"] == "pending" || seen["status"] == "failed",
        "{seen}"
    );
}
