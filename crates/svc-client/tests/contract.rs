//! The typed functions and the SQL functions of schema `svc` are one contract: the
//! arguments each typed function sends are the SQL function's (same names, same types,
//! the rest defaulted), its result type is the SQL one, every key its answer type knows is
//! one the SQL answers (and the other way round), every key it puts in a jsonb argument
//! is one the SQL reads, and every `svc` function has a typed function or says who calls
//! it instead. A rename on one side only fails here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use svc_client::contract::{signatures, Signature, NOT_CALLED_BY_THE_SERVICES};
use testkit::TestProject;

/// One `svc` function as `pg_proc` describes it.
#[derive(Debug)]
struct SqlFunction {
    args: Vec<(String, String)>,
    /// How many of the last arguments have a default.
    defaults: usize,
    returns: String,
    source: String,
}

async fn sql_functions(project: &TestProject) -> BTreeMap<String, Vec<SqlFunction>> {
    let rows = project
        .db()
        .await
        .query(
            "select p.proname::text,
                    coalesce(p.proargnames, '{}')::text[],
                    array(select format_type(a.t, null)
                            from unnest(p.proargtypes::oid[]) with ordinality a(t, n)
                           order by a.n)::text[],
                    p.pronargdefaults::int4,
                    case when p.proretset then 'setof ' else '' end || format_type(p.prorettype, null),
                    p.prosrc
               from pg_proc p
              where p.pronamespace = 'svc'::regnamespace
              order by 1",
            &[],
        )
        .await
        .unwrap();
    let mut functions: BTreeMap<String, Vec<SqlFunction>> = BTreeMap::new();
    for row in rows {
        let names: Vec<String> = row.get(1);
        let types: Vec<String> = row.get(2);
        let defaults: i32 = row.get(3);
        functions.entry(row.get(0)).or_default().push(SqlFunction {
            args: names.into_iter().zip(types).collect(),
            defaults: usize::try_from(defaults).unwrap_or(0),
            returns: row.get(4),
            source: row.get(5),
        });
    }
    functions
}

/// What differs between a typed function and its SQL function.
fn signature_differences(typed: &Signature, sql: &SqlFunction) -> Vec<String> {
    let f = typed.function;
    let mut differences = Vec::new();
    for (name, sql_type) in typed.args {
        match sql.args.iter().find(|(n, _)| n == name) {
            None => differences.push(format!(
                "svc.{f}: Rust sends {name}, the SQL has no such argument"
            )),
            Some((_, t)) if t != sql_type => differences.push(format!(
                "svc.{f}: {name} is {sql_type} in Rust, {t} in the SQL"
            )),
            Some(_) => {}
        }
    }
    let required = sql.args.len() - sql.defaults.min(sql.args.len());
    for (name, _) in &sql.args[..required] {
        if !typed.args.iter().any(|(n, _)| n == name) {
            differences.push(format!(
                "svc.{f}: the SQL requires {name}, Rust does not send it"
            ));
        }
    }
    if typed.returns != sql.returns {
        differences.push(format!(
            "svc.{f}: returns {} in Rust, {} in the SQL",
            typed.returns, sql.returns
        ));
    }
    differences
}

#[tokio::test]
async fn every_svc_function_has_a_typed_function_with_its_signature_or_says_who_calls_it() {
    let project = TestProject::new().await;
    let sql = sql_functions(&project).await;
    let typed = signatures();
    let mut differences = Vec::new();

    for s in &typed {
        match sql.get(s.function).map(Vec::as_slice) {
            None => differences.push(format!("svc.{}: typed in Rust, not in the SQL", s.function)),
            Some([one]) => differences.extend(signature_differences(s, one)),
            Some(_) => differences.push(format!(
                "svc.{}: overloaded in the SQL (PostgREST could pick either)",
                s.function
            )),
        }
    }
    for name in sql.keys() {
        let is_typed = typed.iter().any(|s| s.function == name);
        let is_listed = NOT_CALLED_BY_THE_SERVICES.iter().any(|(n, _)| n == name);
        match (is_typed, is_listed) {
            (false, false) => differences.push(format!(
                "svc.{name}: no typed function in svc-client, and not listed in NOT_CALLED_BY_THE_SERVICES"
            )),
            (true, true) => differences.push(format!(
                "svc.{name}: typed, yet listed as not called by the services"
            )),
            _ => {}
        }
    }
    for (name, _) in NOT_CALLED_BY_THE_SERVICES {
        if !sql.contains_key(*name) {
            differences.push(format!(
                "svc.{name}: listed as not called by the services, but the SQL has no such function"
            ));
        }
    }
    assert!(differences.is_empty(), "\n{}\n", differences.join("\n"));
}

/// The source of `function` and of every `svc` function it calls, transitively.
fn source_with_callees(function: &str, sql: &BTreeMap<String, Vec<SqlFunction>>) -> String {
    let mut seen = BTreeSet::from([function.to_owned()]);
    let mut queue = vec![function.to_owned()];
    let mut source = String::new();
    while let Some(name) = queue.pop() {
        for f in sql.get(&name).into_iter().flatten() {
            source.push_str(&f.source);
            source.push('\n');
            for callee in sql.keys() {
                if f.source.contains(&format!("svc.{callee}(")) && seen.insert(callee.clone()) {
                    queue.push(callee.clone());
                }
            }
        }
    }
    source
}

/// Every object key in `value`, at any depth.
fn keys(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(o) => {
            for (k, v) in o {
                out.insert(k.clone());
                keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// Whether SQL reads `key` from a jsonb value: `->> 'key'`, `-> 'key'`, or a column of
/// `jsonb_to_recordset(...) as e(key text, "key" timestamptz, ...)`.
fn sql_reads_key(source: &str, key: &str) -> bool {
    if source.contains(&format!("'{key}'")) {
        return true;
    }
    const TYPES: [&str; 7] = [
        "text",
        "timestamptz",
        "jsonb",
        "uuid",
        "int",
        "boolean",
        "double precision",
    ];
    TYPES.iter().any(|t| {
        [format!("\"{key}\" {t}"), format!("{key} {t}")]
            .iter()
            .any(|column| {
                source.match_indices(column.as_str()).any(|(i, _)| {
                    let before = source[..i].chars().next_back();
                    let after = source[i + column.len()..].chars().next();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                        && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            })
    })
}

#[tokio::test]
async fn every_key_a_typed_function_puts_in_a_jsonb_argument_is_one_the_sql_reads() {
    let project = TestProject::new().await;
    let sql = sql_functions(&project).await;
    let mut differences = Vec::new();
    for s in signatures() {
        let source = source_with_callees(s.function, &sql);
        for (name, sql_type) in s.args {
            if *sql_type != "jsonb" || s.documents.contains(name) {
                continue;
            }
            let mut sent = BTreeSet::new();
            keys(&s.example[*name], &mut sent);
            for key in sent {
                if !sql_reads_key(&source, &key) {
                    differences.push(format!(
                        "svc.{}: Rust puts {key:?} in {name}, the SQL never reads it",
                        s.function
                    ));
                }
            }
        }
    }
    assert!(differences.is_empty(), "\n{}\n", differences.join("\n"));
}

/// Calls `svc.<function>` through the project's PostgREST with the example arguments
/// of its typed function, as the typed function would; the raw answer, or PostgREST's
/// refusal (e.g. no function with these argument names).
async fn call_raw(
    project: &TestProject,
    http: &reqwest::Client,
    s: &Signature,
) -> Result<Value, String> {
    let key = project.service_role_key();
    let response = http
        .post(format!(
            "{}/rest/v1/rpc/{}",
            project.supabase_url(),
            s.function
        ))
        .header("apikey", &key)
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Profile", "svc")
        .json(&s.example)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    if !status.is_success() {
        return Err(format!(
            "svc.{} with {}: HTTP {status}: {body}",
            s.function, s.example
        ));
    }
    Ok(if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap()
    })
}

/// Keys one side has and the other lacks, at any depth (`typed` is the answer decoded
/// and encoded back by the Rust type).
fn key_differences(path: &str, answered: &Value, typed: &Value, out: &mut Vec<String>) {
    match (answered, typed) {
        (Value::Object(a), Value::Object(t)) => {
            for k in a.keys().filter(|k| !t.contains_key(*k)) {
                out.push(format!(
                    "{path}.{k}: answered by the SQL, unknown to the Rust type"
                ));
            }
            for k in t.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!(
                    "{path}.{k}: expected by the Rust type, not answered by the SQL"
                ));
            }
            for (k, v) in a {
                if let Some(tv) = t.get(k) {
                    key_differences(&format!("{path}.{k}"), v, tv, out);
                }
            }
        }
        (Value::Array(a), Value::Array(t)) => {
            for (i, (av, tv)) in a.iter().zip(t).enumerate() {
                key_differences(&format!("{path}[{i}]"), av, tv, out);
            }
        }
        _ => {}
    }
}

/// A reply waiting to be sent, a broadcast due with one recipient, a pending invitation
/// and a read receipt to send: each claim function has something to answer.
const FIXTURE: &str = "
insert into auth.users (id, email, raw_app_meta_data)
values ('00000000-0000-0000-0000-00000000a001', 'admin@contract.test', '{\"role\":\"admin\"}');
insert into public.contacts (id, phone, wa_id, full_name)
values ('00000000-0000-0000-0000-00000000c001', '34600000001', '34600000001', 'Cliente');
insert into public.conversations (id, contact_id, assigned_agent_id)
values ('00000000-0000-0000-0000-00000000c301', '00000000-0000-0000-0000-00000000c001',
        '00000000-0000-0000-0000-00000000a001');
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, created_at, wa_message_id)
values ('00000000-0000-0000-0000-00000000c301', 'contact', '00000000-0000-0000-0000-00000000c001',
        'hola', 'text', 'delivered', now() - interval '5 minutes', 'wamid.contract.in1');
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status)
values ('00000000-0000-0000-0000-00000000c301', 'agent', '00000000-0000-0000-0000-00000000a001',
        'buenas', 'text', 'pending');
insert into public.message_templates (id, name, content, wa_template_name, language_code, parameters)
values ('00000000-0000-0000-0000-00000000e001', 'VIP', 'Hola {{1}}', 'promo_vip', 'es', '[\"contact.full_name\"]');
insert into public.broadcast_messages (id, name, content, status, scheduled_for, created_by, template_id, audience)
values ('00000000-0000-0000-0000-00000000b001', 'Oferta', 'Hola {{1}}', 'scheduled', now() + interval '1 hour',
        '00000000-0000-0000-0000-00000000a001', '00000000-0000-0000-0000-00000000e001', '{\"type\": \"explicit\"}');
insert into public.broadcast_recipients (broadcast_id, contact_id)
values ('00000000-0000-0000-0000-00000000b001', '00000000-0000-0000-0000-00000000c001');
update public.broadcast_messages set scheduled_for = now() where id = '00000000-0000-0000-0000-00000000b001';
insert into public.invitations (email, role, next_attempt_at) values ('nueva@contract.test', 'agent', now());
insert into svc.read_receipts (conversation_id, wa_message_id, message_created_at)
values ('00000000-0000-0000-0000-00000000c301', 'wamid.contract.in1', now());
insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, created_at, wa_message_id, metadata)
values ('00000000-0000-0000-0000-00000000c301', 'contact', '00000000-0000-0000-0000-00000000c001', '[image]', 'image',
        'delivered', now() - interval '4 minutes', 'wamid.contract.in2',
        '{\"content\": {\"type\": \"image\", \"media\": {\"id\": \"MEDIA1\", \"mime_type\": \"image/png\"}}}');
";

/// In the order they run on the fixture; those that must answer something (so that the
/// keys of their rows are compared) are marked.
const CALLS: &[(&str, bool)] = &[
    ("ping", true),
    ("ingest_webhooks", true),
    ("apply_queued_statuses", true),
    ("webhook_backlog", true),
    ("replay_failed_webhooks", true),
    ("prune_webhook_journal", false),
    ("erase_from_journal", true),
    ("export_from_journal", true),
    ("claim_scheduled_outbound_messages", true),
    ("record_outbound_outcomes", true),
    ("pause_sending", false),
    ("outbound_status", true),
    ("held_outcomes", true),
    ("resume_sending", true),
    ("start_due_broadcasts", true),
    ("broadcast_progress", true),
    ("claim_scheduled_broadcast_recipients", true),
    ("record_broadcast_outcomes", true),
    ("release_broadcast_claims", true),
    ("complete_finished_broadcasts", true),
    ("claim_invitations", true),
    ("record_invitation_sent", true),
    ("record_invitation_retry", true),
    ("record_invitation_failed", true),
    ("claim_read_receipts", true),
    ("record_read_receipt_sent", true),
    ("record_read_receipt_retry", true),
    ("record_read_receipt_failed", true),
    ("claim_template_sync", true),
    ("upsert_templates", true),
    ("finish_template_sync", true),
    ("messaging_limit", true),
    ("claim_media_fetches", true),
    ("record_media_stored", true),
    ("record_media_retry", true),
    ("record_media_failed", true),
    ("configure_media_links", true),
    ("claim_media_deletions", false),
    ("record_media_deleted", true),
    ("record_media_upload", true),
    ("claim_stale_media_uploads", false),
    ("record_media_uploads_deleted", true),
];

#[tokio::test]
async fn typed_answers_know_every_key_the_functions_answer_and_no_other() {
    let project = TestProject::new().await;
    project.db().await.batch_execute(FIXTURE).await.unwrap();
    let http = reqwest::Client::new();
    let typed = signatures();
    let mut differences = Vec::new();

    for (function, must_answer) in CALLS {
        let s = typed
            .iter()
            .find(|s| s.function == *function)
            .unwrap_or_else(|| panic!("svc.{function} has no typed function"));
        let answered = match call_raw(&project, &http, s).await {
            Ok(answered) => answered,
            Err(refused) => {
                differences.push(refused);
                continue;
            }
        };
        if *must_answer {
            assert!(
                !(answered.is_null() || answered == Value::Array(vec![])),
                "svc.{function} answered nothing on the fixture: its keys can't be compared"
            );
        }
        match s.decode_and_encode(answered.clone()) {
            Err(e) => differences.push(format!(
                "svc.{function}: the Rust type refuses the answer: {e}; answer: {answered}"
            )),
            Ok(encoded) => key_differences(
                &format!("svc.{function}"),
                &answered,
                &encoded,
                &mut differences,
            ),
        }
    }
    for s in &typed {
        if !CALLS.iter().any(|(f, _)| *f == s.function) {
            differences.push(format!("svc.{}: typed but never called here", s.function));
        }
    }
    assert!(differences.is_empty(), "\n{}\n", differences.join("\n"));
}
