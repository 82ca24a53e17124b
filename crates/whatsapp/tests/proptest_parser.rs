//! The webhook parser takes outside input: it must never panic, whatever arrives.
//! Arbitrary bytes, arbitrary JSON, JSON shaped like a webhook with arbitrary
//! parts, and the fixtures with random mutations.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use whatsapp::WebhookBatch;

const DB_MESSAGE_TYPES: [&str; 12] = [
    "text",
    "image",
    "file",
    "location",
    "template",
    "audio",
    "video",
    "sticker",
    "contacts",
    "interactive",
    "reaction",
    "unsupported",
];

const KEYS: &[&str] = &[
    "object",
    "entry",
    "id",
    "changes",
    "field",
    "value",
    "metadata",
    "display_phone_number",
    "phone_number_id",
    "contacts",
    "messages",
    "statuses",
    "errors",
    "wa_id",
    "user_id",
    "profile",
    "name",
    "username",
    "from",
    "from_user_id",
    "timestamp",
    "type",
    "text",
    "body",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "latitude",
    "longitude",
    "interactive",
    "button_reply",
    "list_reply",
    "nfm_reply",
    "title",
    "button",
    "payload",
    "reaction",
    "message_id",
    "emoji",
    "order",
    "product_items",
    "quantity",
    "item_price",
    "system",
    "unsupported",
    "context",
    "forwarded",
    "referral",
    "status",
    "recipient_id",
    "code",
    "error_data",
    "details",
    "caption",
    "filename",
    "mime_type",
    "voice",
    "animated",
    "phones",
    "formatted_name",
];

const TYPES: &[&str] = &[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "button",
    "reaction",
    "order",
    "system",
    "unsupported",
    "button_reply",
    "list_reply",
    "nfm_reply",
    "sent",
    "delivered",
    "read",
    "failed",
    "messages",
    "whatsapp_business_account",
    "poll",
];

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => "[a-z_]{0,10}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(TYPES).prop_map(|s| Value::String(s.to_string())),
        "[0-9]{1,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(arb_key(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A message-like object: a known type, its content arbitrary.
fn arb_message() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(TYPES),
        arb_json(),
        arb_json(),
        prop::option::of("[0-9]{0,11}"),
        any::<bool>(),
    )
        .prop_map(|(type_name, content, context, ts, with_id)| {
            let mut m = json!({"from": "16505551234", "type": type_name, type_name: content, "context": context});
            if let Some(ts) = ts {
                m["timestamp"] = Value::String(ts);
            }
            if with_id {
                m["id"] = json!("wamid.X");
            }
            m
        })
}

/// An envelope whose items are arbitrary.
fn arb_envelope() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(arb_message(), 0..4),
        prop::collection::vec(arb_json(), 0..3),
        prop::collection::vec(arb_json(), 0..3),
        arb_json(),
        prop::sample::select(&["messages", "statuses", "account_update"][..]),
    )
        .prop_map(|(messages, statuses, contacts, errors, field)| {
            json!({
                "object": "whatsapp_business_account",
                "entry": [{"id": "1", "changes": [{"field": field, "value": {
                    "metadata": {"display_phone_number": "1", "phone_number_id": "2"},
                    "messages": messages, "statuses": statuses, "contacts": contacts, "errors": errors
                }}]}]
            })
        })
}

fn fixtures() -> Vec<Value> {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).expect("readable")).expect("JSON"))
        .collect()
}

/// Walks down `value` by `path` (each step picks a child modulo the child count)
/// and mutates the node reached.
fn mutate(value: &mut Value, path: &[usize], op: u8, replacement: &Value) {
    if let Some((&step, rest)) = path.split_first() {
        let child = match value {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(step % map.len()).cloned();
                key.and_then(|k| map.get_mut(&k))
            }
            Value::Array(items) if !items.is_empty() => {
                let len = items.len();
                items.get_mut(step % len)
            }
            _ => None,
        };
        if let Some(child) = child {
            if !rest.is_empty() || op % 5 != 4 {
                mutate(child, rest, op, replacement);
                return;
            }
        }
    }
    match (op % 5, &mut *value) {
        (1, Value::Object(map)) if !map.is_empty() => {
            let key = map.keys().next().cloned();
            if let Some(k) = key {
                map.remove(&k);
            }
        }
        (2, Value::String(s)) => *value = Value::from(s.len()),
        (2, Value::Number(n)) => *value = Value::String(n.to_string()),
        (3, Value::Array(items)) => items.push(replacement.clone()),
        (3, Value::Object(map)) => map.clear(),
        _ => *value = replacement.clone(),
    }
}

fn check(bytes: &[u8]) {
    if let Ok(batch) = WebhookBatch::parse(bytes) {
        let json = serde_json::to_value(&batch).expect("a parsed batch serializes");
        for (change, message) in batch.messages() {
            assert!(DB_MESSAGE_TYPES.contains(&message.kind_name()));
            let _ = message.preview_text();
            let _ = change.contact_for(message);
        }
        for (_, status) in batch.statuses() {
            let _ = status.status.as_str();
        }
        let back: WebhookBatch = serde_json::from_value(json).expect("and reads back");
        assert_eq!(back, batch);
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,256}") {
        check(text.as_bytes());
    }

    #[test]
    fn arbitrary_json_never_panics(value in arb_json()) {
        check(value.to_string().as_bytes());
        let wrapped = json!({"object": "whatsapp_business_account", "entry": value});
        check(wrapped.to_string().as_bytes());
        let wrapped = json!({"object": "whatsapp_business_account", "entry": [value]});
        check(wrapped.to_string().as_bytes());
    }

    #[test]
    fn envelopes_with_arbitrary_items_never_panic(value in arb_envelope()) {
        check(value.to_string().as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        index in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(
            (prop::collection::vec(any::<usize>(), 0..10), any::<u8>(), arb_json()),
            1..6,
        ),
    ) {
        let all = fixtures();
        let mut value = index.get(&all).clone();
        for (path, op, replacement) in &mutations {
            mutate(&mut value, path, *op, replacement);
        }
        check(value.to_string().as_bytes());
    }

    #[test]
    fn truncated_fixtures_never_panic(index in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let all = fixtures();
        let bytes = index.get(&all).to_string().into_bytes();
        let end = cut.index(bytes.len() + 1);
        check(&bytes[..end]);
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(WebhookBatch::parse(deep.as_bytes()).is_err());
    let deep_obj = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{}1{}]}}"#,
        "{\"a\":".repeat(10_000),
        "}".repeat(10_000)
    );
    assert!(WebhookBatch::parse(deep_obj.as_bytes()).is_err());
}
