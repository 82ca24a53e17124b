#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The harness itself: each test's project is its own database behind its own PostgREST,
//! reached with the hosted layout (SUPABASE_URL + /rest/v1).

use serde_json::Value;
use svc_client::{ProjectUrl, SupabaseSettings, SvcClient};
use testkit::TestProject;

fn svc_for(project: &TestProject) -> SvcClient {
    SvcClient::new(&SupabaseSettings {
        url: ProjectUrl::parse(&project.supabase_url()).unwrap(),
        service_role_key: service_runtime_secret(project.service_role_key()),
    })
}

fn service_runtime_secret(s: String) -> service_runtime::Secret {
    service_runtime::Secret::new(s)
}

#[tokio::test]
async fn a_service_role_call_through_postgrest_reaches_the_tests_own_database() {
    let project = TestProject::new().await;
    let other = TestProject::new().await;
    assert_ne!(project.database_name(), other.database_name());

    // Write a marker directly into this project's database only.
    project
        .db()
        .await
        .execute(
            "insert into public.contacts (phone, wa_id, full_name) values ('34600999000', '34600999000', 'Marker')",
            &[],
        )
        .await
        .unwrap();

    assert_eq!(svc_for(&project).ping().await.unwrap(), "pong");

    let http = reqwest::Client::new();
    let get_contacts = |p: &TestProject| {
        http.get(format!(
            "{}/rest/v1/contacts?select=full_name",
            p.supabase_url()
        ))
        .header("apikey", p.service_role_key())
        .send()
    };
    let seen: Value = get_contacts(&project).await.unwrap().json().await.unwrap();
    assert_eq!(seen, serde_json::json!([{ "full_name": "Marker" }]));
    let seen_elsewhere: Value = get_contacts(&other).await.unwrap().json().await.unwrap();
    assert_eq!(seen_elsewhere, serde_json::json!([]));
}

#[tokio::test]
async fn the_gateway_refuses_requests_without_an_apikey() {
    let project = TestProject::new().await;
    let response = reqwest::get(format!("{}/rest/v1/contacts", project.supabase_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_stopped_postgrest_makes_svc_calls_unreachable_until_it_is_back() {
    let mut project = TestProject::new().await;
    let svc = svc_for(&project);
    project.stop_postgrest();
    let err = svc.ping().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    project.start_postgrest().await;
    assert_eq!(svc.ping().await.unwrap(), "pong");
}
