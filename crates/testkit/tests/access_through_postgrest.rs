#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The access rules through the real PostgREST, with tokens minted as Supabase Auth
//! mints them: a representative slice of the pgTAP access matrix
//! (supabase/tests/1*-access-*.sql), seen the way the frontend sees it.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::TestProject;
use uuid::Uuid;

/// The frontend's view of a project: supabase-js sends the anon key as `apikey` and the
/// signed-in user's access token (or, signed out, the anon key) as the bearer token.
struct Frontend<'p> {
    project: &'p TestProject,
    http: reqwest::Client,
}

/// Who is calling.
#[derive(Clone, Copy)]
enum Caller {
    Anon,
    User(Uuid),
    ServiceRole,
}

impl<'p> Frontend<'p> {
    fn new(project: &'p TestProject) -> Self {
        Self {
            project,
            http: reqwest::Client::new(),
        }
    }

    fn bearer(&self, caller: Caller) -> String {
        match caller {
            Caller::Anon => self.project.anon_key(),
            Caller::User(id) => self.project.keys().user_token(id),
            Caller::ServiceRole => self.project.service_role_key(),
        }
    }

    /// One request to `/rest/v1/<path>`; answers the status and the JSON body (Null if none).
    async fn call(
        &self,
        caller: Caller,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let apikey = match caller {
            Caller::ServiceRole => self.project.service_role_key(),
            _ => self.project.anon_key(),
        };
        let mut request = self
            .http
            .request(
                method,
                format!("{}/rest/v1/{path}", self.project.supabase_url()),
            )
            .header("apikey", apikey)
            .header("Authorization", format!("Bearer {}", self.bearer(caller)))
            .header("Prefer", "return=representation");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    async fn get(&self, caller: Caller, path: &str) -> (StatusCode, Value) {
        self.call(caller, Method::GET, path, None, &[]).await
    }

    async fn post(&self, caller: Caller, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(caller, Method::POST, path, Some(body), &[]).await
    }

    async fn patch(&self, caller: Caller, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(caller, Method::PATCH, path, Some(body), &[])
            .await
    }

    /// The ids a caller reads from a table (sorted), asserting the read itself succeeds.
    async fn ids(&self, caller: Caller, table_and_filter: &str) -> Vec<String> {
        let separator = if table_and_filter.contains('?') {
            '&'
        } else {
            '?'
        };
        let (status, body) = self
            .get(caller, &format!("{table_and_filter}{separator}select=id"))
            .await;
        assert_eq!(status, StatusCode::OK, "reading {table_and_filter}: {body}");
        let mut ids: Vec<String> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    }
}

/// A denial as PostgREST reports it: 401 for anon, 403 for a signed-in user, and the
/// database's insufficient_privilege code either way.
fn assert_denied((status, body): &(StatusCode, Value), what: &str) {
    assert!(
        *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN,
        "{what}: expected 401 or 403, got {status}: {body}"
    );
    assert_eq!(body["code"], "42501", "{what}: {body}");
}

/// Two agents, an admin, and one conversation (with its contact and a message) per agent.
struct Team {
    agent_a: Uuid,
    agent_b: Uuid,
    admin: Uuid,
    contact_a: Uuid,
    conversation_a: Uuid,
    conversation_b: Uuid,
    message_a: Uuid,
    message_b: Uuid,
}

impl Team {
    async fn seed(project: &TestProject) -> Self {
        let team = Self {
            agent_a: Uuid::new_v4(),
            agent_b: Uuid::new_v4(),
            admin: Uuid::new_v4(),
            contact_a: Uuid::new_v4(),
            conversation_a: Uuid::new_v4(),
            conversation_b: Uuid::new_v4(),
            message_a: Uuid::new_v4(),
            message_b: Uuid::new_v4(),
        };
        let contact_b = Uuid::new_v4();
        let Team {
            agent_a,
            agent_b,
            admin,
            contact_a,
            conversation_a,
            conversation_b,
            message_a,
            message_b,
        } = team;
        project
            .db()
            .await
            .batch_execute(&format!(
                "insert into auth.users (id, email, raw_app_meta_data, raw_user_meta_data) values
                   ('{agent_a}', 'a@example.test', '{{\"role\": \"agent\"}}', '{{\"full_name\": \"Agent A\"}}'),
                   ('{agent_b}', 'b@example.test', '{{\"role\": \"agent\"}}', '{{\"full_name\": \"Agent B\"}}'),
                   ('{admin}', 'admin@example.test', '{{\"role\": \"admin\"}}', '{{\"full_name\": \"Admin\"}}');
                 insert into public.contacts (id, phone, wa_id, full_name) values
                   ('{contact_a}', '+5491100000001', '5491100000001', 'Customer of A'),
                   ('{contact_b}', '+5491100000002', '5491100000002', 'Customer of B');
                 insert into public.conversations (id, contact_id, assigned_agent_id, last_message_at) values
                   ('{conversation_a}', '{contact_a}', '{agent_a}', now()),
                   ('{conversation_b}', '{contact_b}', '{agent_b}', now());
                 insert into public.messages (id, conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id) values
                   ('{message_a}', '{conversation_a}', 'contact', '{contact_a}', 'hello A', 'text', 'delivered', 'wamid.a'),
                   ('{message_b}', '{conversation_b}', 'contact', '{contact_b}', 'hello B', 'text', 'delivered', 'wamid.b');"
            ))
            .await
            .unwrap();
        team
    }
}

fn sorted(ids: &[Uuid]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    ids.sort();
    ids
}

const TABLES: [&str; 10] = [
    "users",
    "contacts",
    "conversations",
    "messages",
    "labels",
    "conversation_labels",
    "notes",
    "message_templates",
    "broadcast_messages",
    "broadcast_recipients",
];

#[tokio::test]
async fn an_agent_sees_only_their_conversations_their_messages_and_their_contacts() {
    let project = TestProject::new().await;
    let team = Team::seed(&project).await;
    let api = Frontend::new(&project);
    let a = Caller::User(team.agent_a);

    assert_eq!(
        api.ids(a, "conversations").await,
        sorted(&[team.conversation_a])
    );
    assert_eq!(api.ids(a, "messages").await, sorted(&[team.message_a]));
    assert_eq!(api.ids(a, "contacts").await, sorted(&[team.contact_a]));
    // Asking for agent B's conversation by id finds nothing, as if it did not exist.
    assert_eq!(
        api.ids(
            a,
            &format!("messages?conversation_id=eq.{}", team.conversation_b)
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        api.ids(a, &format!("conversations?id=eq.{}", team.conversation_b))
            .await,
        Vec::<String>::new()
    );

    // The inbox query: their conversations, newest first, with the contact's name.
    let (status, inbox) = api
        .get(
            a,
            "conversations?select=id,contacts(full_name)&order=last_message_at.desc&limit=50",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    assert_eq!(
        inbox,
        json!([{ "id": team.conversation_a, "contacts": { "full_name": "Customer of A" } }])
    );

    // The team directory is everyone's.
    assert_eq!(
        api.ids(a, "users").await,
        sorted(&[team.agent_a, team.agent_b, team.admin])
    );

    // The admin sees both conversations and both messages.
    let admin = Caller::User(team.admin);
    assert_eq!(
        api.ids(admin, "conversations").await,
        sorted(&[team.conversation_a, team.conversation_b])
    );
    assert_eq!(
        api.ids(admin, "messages").await,
        sorted(&[team.message_a, team.message_b])
    );
}

#[tokio::test]
async fn anon_reads_and_writes_nothing_anywhere() {
    let project = TestProject::new().await;
    let team = Team::seed(&project).await;
    let api = Frontend::new(&project);

    for table in TABLES {
        let read = api.get(Caller::Anon, table).await;
        assert_denied(&read, &format!("anon reading {table}"));
    }
    let write = api
        .post(
            Caller::Anon,
            "messages",
            json!({ "conversation_id": team.conversation_a, "sender_type": "agent",
                    "sender_id": team.agent_a, "message_type": "text", "status": "pending",
                    "content": "hi" }),
        )
        .await;
    assert_denied(&write, "anon inserting a message");
    let update = api
        .patch(
            Caller::Anon,
            &format!("conversations?id=eq.{}", team.conversation_a),
            json!({ "priority": "high" }),
        )
        .await;
    assert_denied(&update, "anon updating a conversation");

    // The data is there: the service role reads it through the same gateway.
    assert_eq!(
        api.ids(Caller::ServiceRole, "conversations").await,
        sorted(&[team.conversation_a, team.conversation_b])
    );
}

#[tokio::test]
async fn an_agents_token_cannot_call_any_svc_function() {
    let project = TestProject::new().await;
    let team = Team::seed(&project).await;
    let api = Frontend::new(&project);
    let svc = [("Content-Profile", "svc")];

    // The request shape works: the service role gets its pong.
    let (status, body) = api
        .call(
            Caller::ServiceRole,
            Method::POST,
            "rpc/ping",
            Some(json!({})),
            &svc,
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!("pong")),
        "service role calling svc.ping"
    );

    // Every function in svc, called with all its named arguments (null: the call is
    // refused before the body would run), by an agent, an admin and anon.
    let functions = project
        .db()
        .await
        .query(
            "select p.proname::text,
                    coalesce((select array_agg(n order by i)
                                from unnest(p.proargnames, p.proargmodes) with ordinality as a(n, m, i)
                               where coalesce(m, 'i') in ('i', 'b', 'v')),
                             array(select unnest(p.proargnames))) as args
               from pg_proc p
              where p.pronamespace = 'svc'::regnamespace and p.prorettype <> 'trigger'::regtype",
            &[],
        )
        .await
        .unwrap();
    assert!(
        !functions.is_empty(),
        "schema svc has functions to try (at least ping)"
    );
    let mut tried = 0;
    for row in &functions {
        let name: String = row.get(0);
        let args: Vec<String> = row.get(1);
        let body: serde_json::Map<String, Value> =
            args.into_iter().map(|a| (a, Value::Null)).collect();
        for caller in [
            Caller::User(team.agent_a),
            Caller::User(team.admin),
            Caller::Anon,
        ] {
            let answer = api
                .call(
                    caller,
                    Method::POST,
                    &format!("rpc/{name}"),
                    Some(Value::Object(body.clone())),
                    &svc,
                )
                .await;
            assert_denied(&answer, &format!("calling svc.{name}"));
            tried += 1;
        }
    }
    assert!(tried >= 3);

    // Nor can they read svc's tables.
    let tables = project
        .db()
        .await
        .query(
            "select c.relname::text from pg_class c where c.relnamespace = 'svc'::regnamespace and c.relkind = 'r'",
            &[],
        )
        .await
        .unwrap();
    for row in &tables {
        let table: String = row.get(0);
        let answer = api
            .call(
                Caller::User(team.admin),
                Method::GET,
                &table,
                None,
                &[("Accept-Profile", "svc")],
            )
            .await;
        assert_denied(&answer, &format!("admin reading svc.{table}"));
    }
}

#[tokio::test]
async fn an_inactive_agents_still_valid_token_sees_nothing() {
    let project = TestProject::new().await;
    let team = Team::seed(&project).await;
    let api = Frontend::new(&project);
    let a = Caller::User(team.agent_a);
    let db = project.db().await;
    db.batch_execute(&format!(
        "insert into public.notes (conversation_id, content, created_by)
         values ('{}', 'my note', '{}')",
        team.conversation_a, team.agent_a
    ))
    .await
    .unwrap();

    // While active, the token works.
    assert_eq!(
        api.ids(a, "conversations").await,
        sorted(&[team.conversation_a])
    );

    // An admin deactivates agent A through the API; A's token stays valid for its hour.
    let (status, body) = api
        .patch(
            Caller::User(team.admin),
            &format!("users?id=eq.{}", team.agent_a),
            json!({ "status": "inactive" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["status"], "inactive");

    for table in TABLES {
        let (status, body) = api.get(a, table).await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, json!([])),
            "inactive agent reading {table}"
        );
    }
    let reply = api
        .post(
            a,
            "messages",
            json!({ "conversation_id": team.conversation_a, "sender_type": "agent",
                    "sender_id": team.agent_a, "message_type": "text", "status": "pending",
                    "content": "am I still here?" }),
        )
        .await;
    assert_denied(&reply, "inactive agent queueing a reply");
    let (status, body) = api
        .patch(
            a,
            &format!("users?id=eq.{}", team.agent_a),
            json!({ "status": "active" }),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!([])),
        "inactive agent reactivating themselves changes nothing"
    );
    let status: String = db
        .query_one(
            &format!(
                "select status from public.users where id = '{}'",
                team.agent_a
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "inactive");
}

#[tokio::test]
async fn an_agent_queues_a_pending_reply_in_their_conversation_but_never_as_the_contact() {
    let project = TestProject::new().await;
    let team = Team::seed(&project).await;
    let api = Frontend::new(&project);
    let a = Caller::User(team.agent_a);
    let reply = |conversation: Uuid, sender_type: &str, sender: Uuid, status: &str| {
        json!({ "conversation_id": conversation, "sender_type": sender_type,
                "sender_id": sender, "message_type": "text", "status": status,
                "content": "Thanks for writing!" })
    };

    let (status, body) = api
        .post(
            a,
            "messages",
            reply(team.conversation_a, "agent", team.agent_a, "pending"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body[0]["status"], "pending");
    assert_eq!(body[0]["sender_id"], json!(team.agent_a));

    let as_contact = api
        .post(
            a,
            "messages",
            reply(team.conversation_a, "contact", team.contact_a, "pending"),
        )
        .await;
    assert_denied(&as_contact, "agent A writing as the contact");
    let already_read = api
        .post(
            a,
            "messages",
            reply(team.conversation_a, "agent", team.agent_a, "read"),
        )
        .await;
    assert_denied(&already_read, "agent A inserting a message marked read");
    let as_b = api
        .post(
            a,
            "messages",
            reply(team.conversation_a, "agent", team.agent_b, "pending"),
        )
        .await;
    assert_denied(&as_b, "agent A writing as agent B");
    let into_b = api
        .post(
            a,
            "messages",
            reply(team.conversation_b, "agent", team.agent_a, "pending"),
        )
        .await;
    assert_denied(&into_b, "agent A writing into agent B's conversation");

    // Nobody but the services changes a message afterwards.
    let edit = api
        .patch(
            a,
            &format!("messages?id=eq.{}", team.message_a),
            json!({ "status": "read" }),
        )
        .await;
    assert_denied(&edit, "agent A marking a message read");
    let delete = api
        .call(
            a,
            Method::DELETE,
            &format!("messages?id=eq.{}", team.message_a),
            None,
            &[],
        )
        .await;
    assert_denied(&delete, "agent A deleting a message");

    // Exactly one message was added: the pending reply.
    let added: i64 = project
        .db()
        .await
        .query_one(
            "select count(*) from public.messages where sender_type = 'agent'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(added, 1);
}

#[tokio::test]
async fn only_an_admin_reassigns_a_conversation_and_an_agent_never_promotes_themselves() {
    let project = TestProject::new().await;
    let team = Team::seed(&project).await;
    let api = Frontend::new(&project);
    let a = Caller::User(team.agent_a);
    let conversation_a = format!("conversations?id=eq.{}", team.conversation_a);

    // Status and priority of their own conversation: yes.
    let (status, body) = api
        .patch(a, &conversation_a, json!({ "priority": "urgent" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["priority"], "urgent");

    // Handing it to agent B: no, with the reason.
    let (status, body) = api
        .patch(
            a,
            &conversation_a,
            json!({ "assigned_agent_id": team.agent_b }),
        )
        .await;
    assert_denied(&(status, body.clone()), "agent A reassigning");
    assert_eq!(body["message"], "only an admin can assign a conversation");

    // Agent B's conversation: not even found.
    let (status, body) = api
        .patch(
            a,
            &format!("conversations?id=eq.{}", team.conversation_b),
            json!({ "priority": "low" }),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));

    // The admin reassigns; from then on it is B's and no longer A's.
    let (status, body) = api
        .patch(
            Caller::User(team.admin),
            &conversation_a,
            json!({ "assigned_agent_id": team.agent_b }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(api.ids(a, "conversations").await, Vec::<String>::new());
    assert_eq!(
        api.ids(Caller::User(team.agent_b), "conversations").await,
        sorted(&[team.conversation_a, team.conversation_b])
    );

    // The services (service role) pass the guards: inbound routing assigns too.
    let (status, body) = api
        .patch(
            Caller::ServiceRole,
            &conversation_a,
            json!({ "assigned_agent_id": team.agent_a }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["assigned_agent_id"], json!(team.agent_a));

    // Their own role: never.
    let promote = api
        .patch(
            a,
            &format!("users?id=eq.{}", team.agent_a),
            json!({ "role": "admin" }),
        )
        .await;
    assert_denied(&promote, "agent A promoting themselves");
    // Their own name: yes.
    let (status, body) = api
        .patch(
            a,
            &format!("users?id=eq.{}", team.agent_a),
            json!({ "full_name": "Ana" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["full_name"], "Ana");
    assert_eq!(body[0]["role"], "agent");
}
