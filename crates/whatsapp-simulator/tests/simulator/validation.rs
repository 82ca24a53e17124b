use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_wrong_or_missing_token_is_401_code_190() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    for token in [Some("wrong-token"), None] {
        let answer = t
            .send_as(token, PHONE_NUMBER_ID, text(CUSTOMER, "hi"))
            .await;
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(answer.code(), 190);
        assert_eq!(answer.body["error"]["type"], "OAuthException");
        assert!(answer.body["error"]["fbtrace_id"].is_string());
    }
    assert!(t.sim.received().is_empty());
    assert_eq!(t.sim.stats().rejected_by_code.get("190"), Some(&2));
}

#[tokio::test]
async fn an_unknown_phone_number_id_is_400_code_100() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    let answer = t.send_as(Some(TOKEN), "999999", text(CUSTOMER, "hi")).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), 100);
    assert_eq!(answer.body["error"]["error_subcode"], 33);
    assert!(answer.message().contains("999999"), "{}", answer.message());
}

#[tokio::test]
async fn bad_shapes_are_400_code_100_with_a_helpful_message() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    let cases = [
        (
            json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}),
            "to is required",
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "carrier_pigeon", "carrier_pigeon": {}}),
            "type must be one of",
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {}}),
            "text['body'] is required",
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text"}),
            "The parameter text is required",
        ),
        (
            json!({"messaging_product": "sms", "to": CUSTOMER, "type": "text", "text": {"body": "x"}}),
            "messaging_product must be one of",
        ),
        (
            json!({"to": CUSTOMER, "type": "text", "text": {"body": "x"}}),
            "messaging_product is required",
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "image", "image": {"caption": "no link"}}),
            "image['link'] or image['id']",
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template", "template": {"name": "hello_world"}}),
            "language']['code']",
        ),
    ];
    for (body, expected) in cases {
        let answer = t.send(body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert_eq!(answer.code(), 100, "{body}");
        assert!(
            answer.message().contains(expected),
            "{body}: {:?} should mention {expected:?}",
            answer.message()
        );
        assert!(answer.body["error"]["error_data"]["details"].is_string());
    }
    let raw = t
        .http
        .post(format!(
            "{}/{VERSION}/{PHONE_NUMBER_ID}/messages",
            t.sim.graph_url()
        ))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert!(t.sim.received().is_empty());
}

#[tokio::test]
async fn unknown_paths_answer_a_graph_error() {
    let t = spawn().await;
    let resp = t
        .http
        .get(format!("{}/{VERSION}/12345/insights", t.sim.graph_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 2500);
    // GET /{version}/{id} is a media lookup: an unknown id answers as Meta does.
    let resp = t
        .http
        .get(format!("{}/{VERSION}/12345", t.sim.graph_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 100);
    assert_eq!(body["error"]["error_subcode"], 33);
}
