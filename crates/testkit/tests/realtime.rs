#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Realtime, at the level this stack can check it: Supabase Realtime decodes the WAL with
//! wal2json, asking only for the tables of publication supabase_realtime (its
//! `add-tables` option is built from pg_publication_tables, its `actions` option from the
//! publication's pubinsert, pubupdate and pubdelete). Here a logical slot read the same
//! way shows an insert and an update in each published table, and nothing of the tables
//! left out, nor any deletion, while an unfiltered slot proves those changes were in the
//! WAL.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use testkit::TestProject;

/// The published tables as Realtime passes them to wal2json (`add-tables`).
const PUBLISHED_TABLES: &str =
    "select coalesce(string_agg(format('%s.%s', schemaname, tablename), ','), '')
                                  from pg_publication_tables where pubname = 'supabase_realtime'";

/// The actions the publication publishes, as Realtime passes them to wal2json (`actions`).
const PUBLISHED_ACTIONS: &str =
    "select concat_ws(',', case when pubinsert then 'insert' end, case when pubupdate then 'update' end,
                           case when pubdelete then 'delete' end)
       from pg_publication where pubname = 'supabase_realtime'";

/// Reads and consumes a slot's changes; with `filter`, only the published tables and
/// actions, as Realtime asks for them. Answers table -> the actions seen (I, U, D), in order.
async fn changes(
    admin: &tokio_postgres::Client,
    slot: &str,
    filter: bool,
) -> BTreeMap<String, Vec<String>> {
    let add_tables = if filter {
        format!(", 'add-tables', ({PUBLISHED_TABLES}), 'actions', ({PUBLISHED_ACTIONS})")
    } else {
        String::new()
    };
    let rows = admin
        .query(
            &format!(
                "select data from pg_logical_slot_get_changes($1, null, null,
                   'format-version', '2', 'include-transaction', 'false', 'include-pk', 'true'{add_tables})"
            ),
            &[&slot],
        )
        .await
        .unwrap();
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        let data: String = row.get(0);
        let change: Value = serde_json::from_str(&data).unwrap();
        let table = format!(
            "{}.{}",
            change["schema"].as_str().unwrap(),
            change["table"].as_str().unwrap()
        );
        seen.entry(table)
            .or_default()
            .push(change["action"].as_str().unwrap().to_owned());
    }
    seen
}

#[tokio::test]
async fn inserts_and_updates_of_the_published_tables_reach_realtime_and_nothing_else_does() {
    let project = TestProject::new().await;
    // Logical slots need the replication privilege: as Realtime, connect as the admin.
    let admin = project.connect("supabase_admin").await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let realtime_slot = format!("realtime_test_{}", &suffix[..12]);
    let control_slot = format!("realtime_control_{}", &suffix[..12]);
    // Temporary slots: dropped with this session even if the test fails half-way (a
    // left-over slot would keep the test database from being dropped).
    for slot in [&realtime_slot, &control_slot] {
        admin
            .execute(
                "select pg_create_logical_replication_slot($1, 'wal2json', true)",
                &[slot],
            )
            .await
            .unwrap();
    }

    let published: String = admin.query_one(PUBLISHED_TABLES, &[]).await.unwrap().get(0);
    let published: BTreeSet<&str> = published.split(',').collect();
    assert_eq!(
        published,
        BTreeSet::from([
            "public.broadcast_messages",
            "public.conversations",
            "public.messages",
            "public.notes"
        ])
    );

    // What the services and the frontend do all day, as the owner (who bypasses RLS).
    // The local stack runs with synchronous_commit off, and logical decoding reads only
    // flushed WAL: flush at commit so that the slots see these changes right away.
    project
        .db()
        .await
        .batch_execute(
            "set synchronous_commit = on;
             insert into auth.users (id, email, raw_app_meta_data)
               values ('00000000-0000-4000-8000-000000000001', 'agent@example.test', '{\"role\": \"agent\"}'),
                      ('00000000-0000-4000-8000-000000000002', 'admin@example.test', '{\"role\": \"admin\"}');
             insert into public.contacts (id, phone, wa_id, full_name)
               values ('00000000-0000-4000-8000-000000000010', '+5491100000001', '5491100000001', 'Customer');
             insert into public.conversations (id, contact_id, assigned_agent_id)
               values ('00000000-0000-4000-8000-000000000020', '00000000-0000-4000-8000-000000000010',
                       '00000000-0000-4000-8000-000000000001');
             insert into public.messages (id, conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id)
               values ('00000000-0000-4000-8000-000000000030', '00000000-0000-4000-8000-000000000020', 'contact',
                       '00000000-0000-4000-8000-000000000010', 'hello', 'text', 'delivered', 'wamid.realtime');
             insert into public.notes (id, conversation_id, content, created_by)
               values ('00000000-0000-4000-8000-000000000040', '00000000-0000-4000-8000-000000000020', 'VIP',
                       '00000000-0000-4000-8000-000000000001');
             insert into public.broadcast_messages (id, name, content, created_by)
               values ('00000000-0000-4000-8000-000000000050', 'Promo', 'Promo', '00000000-0000-4000-8000-000000000002');
             insert into public.labels (id, name) values ('00000000-0000-4000-8000-000000000060', 'vip');
             insert into public.conversation_labels (conversation_id, label_id)
               values ('00000000-0000-4000-8000-000000000020', '00000000-0000-4000-8000-000000000060');

             update public.messages set status = 'read', read_at = now() where id = '00000000-0000-4000-8000-000000000030';
             update public.conversations set priority = 'high' where id = '00000000-0000-4000-8000-000000000020';
             update public.notes set content = 'VIP customer', updated_at = now() where id = '00000000-0000-4000-8000-000000000040';
             update public.broadcast_messages set status = 'scheduled', scheduled_for = now() + interval '1 hour'
               where id = '00000000-0000-4000-8000-000000000050';
             update public.labels set color = 'gold' where id = '00000000-0000-4000-8000-000000000060';
             update public.contacts set location = 'Lima' where id = '00000000-0000-4000-8000-000000000010';

             delete from public.notes where id = '00000000-0000-4000-8000-000000000040';
             delete from public.broadcast_messages where id = '00000000-0000-4000-8000-000000000050';",
        )
        .await
        .unwrap();

    let through_realtime = changes(&admin, &realtime_slot, true).await;
    let everything = changes(&admin, &control_slot, false).await;
    for slot in [&realtime_slot, &control_slot] {
        admin
            .execute("select pg_drop_replication_slot($1)", &[slot])
            .await
            .unwrap();
    }

    // Each published table: its insert, then its update (other changes, e.g. triggers'
    // own updates of conversations, may come in between; inserts come before updates).
    for table in &published {
        let actions = through_realtime.get(*table).unwrap_or_else(|| {
            panic!("no change of {table} reached the slot: {through_realtime:?}")
        });
        let first_insert = actions.iter().position(|a| a == "I");
        let last_update = actions.iter().rposition(|a| a == "U");
        assert!(
            matches!((first_insert, last_update), (Some(i), Some(u)) if i < u),
            "{table}: expected an insert and then an update, saw {actions:?}"
        );
    }
    // No deletion reaches Realtime: it can't check a deleted row against RLS and would
    // announce it to every subscriber. (The control slot saw both.)
    for (table, actions) in &through_realtime {
        assert!(
            !actions.iter().any(|a| a == "D"),
            "{table}: a deletion reached Realtime: {actions:?}"
        );
    }
    for table in ["public.notes", "public.broadcast_messages"] {
        assert!(
            everything
                .get(table)
                .is_some_and(|a| a.iter().any(|a| a == "D")),
            "the control slot saw {table} deleted: {everything:?}"
        );
    }
    // Nothing else, although the other tables changed too (the control slot saw them).
    let tables_seen: BTreeSet<&str> = through_realtime.keys().map(String::as_str).collect();
    assert_eq!(tables_seen, published, "{through_realtime:?}");
    for table in [
        "public.labels",
        "public.conversation_labels",
        "public.contacts",
        "public.users",
    ] {
        assert!(
            everything.get(table).is_some_and(|a| !a.is_empty()),
            "the control slot saw {table} change: {everything:?}"
        );
    }
}
