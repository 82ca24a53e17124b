//! `cargo xtask bench rls`: the cost of Row Level Security on the inbox's hot queries.
//!
//! Loads 50 agents, 100,000 contacts, 100,000 conversations and 1,000,000 messages into a
//! fresh database, then times each query many times as an agent through RLS and as
//! service_role with the equivalent explicit filter, interleaved, in one run.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use testkit::layout::{database_url, Layout};
use testkit::{postgres, process, template};

use crate::dev_stack;
use tokio_postgres::{Client, NoTls};

use super::report::{percentile_ms, write_section};

const DB: &str = "cc_bench_rls";
const ITERATIONS: usize = 300;

const LOAD: &str = include_str!("rls_data.sql");

struct Query {
    name: &'static str,
    /// As the agent: RLS does the filtering.
    rls: String,
    /// As service_role: the same rows, filtered explicitly (none for the search RPCs,
    /// which only make sense for a signed-in user).
    explicit: Option<String>,
}

pub fn run() -> Result<()> {
    let layout = Layout::discover();
    dev_stack::start_for_tests(&layout)?;
    if std::env::var_os("BENCH_REUSE_DB").is_some() && postgres::database_exists(DB)? {
        eprintln!("reusing the data set in {DB} (BENCH_REUSE_DB)");
    } else {
        let tpl = template::ensure(&layout)?;
        template::drop_test_databases(DB)?;
        template::clone_into(&tpl, DB)?;
        eprintln!("loading 50 agents, 100,000 contacts and conversations, 1,000,000 messages...");
        let started = Instant::now();
        process::run(
            postgres::psql(DB, testkit::layout::SUPERUSER).args(["-c", LOAD]),
            "bench data load",
        )?;
        eprintln!("loaded in {:.1?}", started.elapsed());
    }

    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(measure());
    if std::env::var_os("BENCH_KEEP_DB").is_none() {
        template::drop_test_databases(DB)?;
    } else {
        eprintln!("kept database {DB} (BENCH_KEEP_DB)");
    }
    result
}

async fn connect_as(role: &str, claims: Option<&str>) -> Result<Client> {
    let (client, connection) =
        tokio_postgres::connect(&database_url("postgres", DB), NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client.batch_execute(&format!("set role {role}")).await?;
    if let Some(claims) = claims {
        client
            .execute(
                "select set_config('request.jwt.claims', $1, false)",
                &[&claims],
            )
            .await?;
    }
    Ok(client)
}

/// Times one execution of a statement prepared once per connection, as PostgREST runs
/// its queries (prepared statements cached per connection).
async fn time_query(
    client: &Client,
    statement: &tokio_postgres::Statement,
) -> Result<(Duration, usize)> {
    let started = Instant::now();
    let rows = client.query(statement, &[]).await.context("query failed")?;
    Ok((started.elapsed(), rows.len()))
}

async fn measure() -> Result<()> {
    // The agent whose inbox we read and one of their conversations.
    let admin = connect_as("postgres", None).await?;
    let agent_id: String = admin
        .query_one("select '00000000-0000-4000-8000-000000000007'", &[])
        .await?
        .get(0);
    let conversation_id: String = admin
        .query_one(
            "select id::text from public.conversations where assigned_agent_id = $1::text::uuid order by last_message_at desc limit 1",
            &[&agent_id],
        )
        .await?
        .get(0);
    let claims = format!(r#"{{"sub":"{agent_id}","role":"authenticated"}}"#);
    let agent = connect_as("authenticated", Some(&claims)).await?;
    let service = connect_as("service_role", None).await?;

    let mut queries = vec![
        Query {
            name: "inbox: the agent's 50 latest conversations with contact name",
            rls: "select c.id, c.status, c.last_message_at, k.full_name from public.conversations c \
                  join public.contacts k on k.id = c.contact_id order by c.last_message_at desc limit 50"
                .into(),
            explicit: Some(format!(
                "select c.id, c.status, c.last_message_at, k.full_name from public.conversations c \
                 join public.contacts k on k.id = c.contact_id where c.assigned_agent_id = '{agent_id}' \
                 order by c.last_message_at desc limit 50"
            )),
        },
        Query {
            name: "conversation: its 50 latest messages",
            rls: format!(
                "select id, sender_type, content, status, created_at from public.messages \
                 where conversation_id = '{conversation_id}' order by created_at desc limit 50"
            ),
            explicit: Some(format!(
                "select m.id, m.sender_type, m.content, m.status, m.created_at from public.messages m \
                 where m.conversation_id = '{conversation_id}' and exists (select 1 from public.conversations c \
                 where c.id = m.conversation_id and c.assigned_agent_id = '{agent_id}') order by m.created_at desc limit 50"
            )),
        },
    ];
    queries.extend(search_queries(&agent_id));

    let mut body = String::from(
        "| query | rows | RLS p50 ms | RLS p95 ms | explicit p50 ms | explicit p95 ms | ratio p50 | ratio p95 |\n|---|---|---|---|---|---|---|---|\n",
    );
    for q in &queries {
        let rls_statement = agent.prepare(&q.rls).await.with_context(|| q.rls.clone())?;
        let explicit_statement = match &q.explicit {
            Some(sql) => Some(service.prepare(sql).await.with_context(|| sql.clone())?),
            None => None,
        };
        // Warm up, and check both forms return the same number of rows.
        let (_, rls_rows) = time_query(&agent, &rls_statement).await?;
        if let Some(statement) = &explicit_statement {
            let (_, explicit_rows) = time_query(&service, statement).await?;
            if rls_rows != explicit_rows {
                anyhow::bail!(
                    "{}: RLS returned {rls_rows} rows, the explicit filter {explicit_rows}",
                    q.name
                );
            }
        }
        let mut rls = Vec::with_capacity(ITERATIONS);
        let mut explicit = Vec::with_capacity(ITERATIONS);
        for _ in 0..ITERATIONS {
            rls.push(time_query(&agent, &rls_statement).await?.0);
            if let Some(statement) = &explicit_statement {
                explicit.push(time_query(&service, statement).await?.0);
            }
        }
        rls.sort();
        explicit.sort();
        let (r50, r95) = (percentile_ms(&rls, 50.0), percentile_ms(&rls, 95.0));
        if explicit.is_empty() {
            body.push_str(&format!(
                "| {} | {rls_rows} | {r50:.2} | {r95:.2} | | | | |\n",
                q.name
            ));
            eprintln!("{}: p50 {r50:.2} ms p95 {r95:.2} ms", q.name);
        } else {
            let (e50, e95) = (
                percentile_ms(&explicit, 50.0),
                percentile_ms(&explicit, 95.0),
            );
            body.push_str(&format!(
                "| {} | {rls_rows} | {r50:.2} | {r95:.2} | {e50:.2} | {e95:.2} | {:.2} | {:.2} |\n",
                q.name,
                r50 / e50,
                r95 / e95
            ));
            eprintln!(
                "{}: RLS p50 {r50:.2} ms p95 {r95:.2} ms; explicit p50 {e50:.2} ms p95 {e95:.2} ms",
                q.name
            );
        }
    }
    body.push_str(&format!(
        "\n{ITERATIONS} timed runs of each query (prepared once per connection, as PostgREST does), RLS and explicit interleaved, one connection each, on 50 agents, \
         100,000 contacts, 100,000 conversations (2,000 per agent) and 1,000,000 messages. Targets: inbox and \
         conversation p95 under 5 ms with RLS at most 1.5x the explicit filter; search p95 under 20 ms.\n"
    ));
    write_section(
        "RLS: the inbox's queries as an agent vs. an explicit filter",
        "cargo xtask bench rls",
        &body,
    )?;
    Ok(())
}

/// The inbox's search RPCs as the agent (they exist only for signed-in users: RLS
/// decides what they return). Terms chosen to match many, some or few of the agent's rows.
fn search_queries(_agent_id: &str) -> Vec<Query> {
    [
        (
            "search contacts: 'garcía' (half of the agent's contacts)",
            "select * from public.search_contacts('garcía')",
        ),
        (
            "search contacts: '600012' (phone fragment)",
            "select * from public.search_contacts('600012')",
        ),
        (
            "search contacts: 'lucia gomes' (misspelt name)",
            "select * from public.search_contacts('lucia gomes')",
        ),
        (
            "search messages: 'Canarias'",
            "select * from public.search_messages('Canarias')",
        ),
        (
            "search messages: 'pedido 8991'",
            "select * from public.search_messages('pedido 8991')",
        ),
    ]
    .into_iter()
    .map(|(name, sql)| Query {
        name,
        rls: sql.into(),
        explicit: None,
    })
    .collect()
}
