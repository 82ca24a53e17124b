//! Every fixture under `tests/fixtures/` (Meta's documented payload shapes) parsed
//! to its exact typed result.

use serde_json::{json, Value};
use time::macros::datetime;
use time::OffsetDateTime;
use whatsapp::{
    Change, Contact, ErrorDetail, IgnoredChange, InboundMessage, InteractiveReply, Media,
    MessageContext, MessageKind, MessagesChange, Metadata, Order, ProductItem, Referral,
    SharedContact, SharedPhone, Status, StatusKind, SystemEvent, WebhookBatch,
};

const USER: &str = "16505551234";
const WAMID_PREFIX: &str = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQz";
const SENT_WAMID: &str = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).expect("fixture exists")
}

fn load(name: &str) -> (Value, WebhookBatch) {
    let bytes = fixture(name);
    let value: Value = serde_json::from_slice(&bytes).expect("fixture is JSON");
    let batch = WebhookBatch::parse(&bytes).expect("fixture parses");
    (value, batch)
}

/// The only change of a one-entry, one-change fixture without problems.
fn single_change(batch: &WebhookBatch) -> &MessagesChange {
    assert!(batch.problems.is_empty(), "{:#?}", batch.problems);
    assert_eq!(batch.entries.len(), 1);
    assert_eq!(batch.entries[0].id.as_deref(), Some("102290129340398"));
    assert_eq!(batch.entries[0].changes.len(), 1);
    match &batch.entries[0].changes[0] {
        Change::Messages(c) => c,
        Change::Ignored(i) => panic!("unexpected ignored change {i:?}"),
    }
}

fn item(value: &Value, list: &str, i: usize) -> Value {
    value["entry"][0]["changes"][0]["value"][list][i].clone()
}

fn meta() -> Metadata {
    Metadata {
        display_phone_number: Some("15550783881".into()),
        phone_number_id: "106540352242922".into(),
    }
}

fn sheena() -> Contact {
    Contact {
        wa_id: Some(USER.into()),
        user_id: None,
        parent_user_id: None,
        profile_name: Some("Sheena Nelson".into()),
        username: None,
    }
}

fn message(suffix: &str, kind: MessageKind, raw: Value) -> InboundMessage {
    InboundMessage {
        id: format!("{WAMID_PREFIX}{suffix}"),
        from: Some(USER.into()),
        from_user_id: None,
        group_id: None,
        timestamp: datetime!(2025-06-08 20:59:43 UTC),
        context: None,
        referral: None,
        errors: vec![],
        kind,
        raw,
    }
}

fn reply_context(id: &str) -> Option<MessageContext> {
    Some(MessageContext {
        id: Some(id.into()),
        from: Some("15550783881".into()),
        ..MessageContext::default()
    })
}

/// Asserts a fixture holds exactly one message from Sheena and returns it.
fn single_message(name: &str) -> (Value, InboundMessage) {
    let (value, batch) = load(name);
    let change = single_change(&batch);
    assert_eq!(change.metadata, meta());
    assert_eq!(change.contacts, vec![sheena()]);
    assert!(change.statuses.is_empty() && change.errors.is_empty());
    assert_eq!(change.messages.len(), 1);
    assert_eq!(
        change.contact_for(&change.messages[0]),
        Some(&change.contacts[0])
    );
    let raw = item(&value, "messages", 0);
    assert_eq!(change.messages[0].raw, raw);
    (raw, change.messages[0].clone())
}

fn media(id: &str, mime: &str, sha: &str) -> Media {
    Media {
        id: id.into(),
        mime_type: Some(mime.into()),
        sha256: Some(sha.into()),
        caption: None,
        filename: None,
        url: None,
    }
}

fn status(id: &str, kind: StatusKind, timestamp: OffsetDateTime, raw: Value) -> Status {
    Status {
        id: id.into(),
        status: kind,
        timestamp,
        recipient_id: Some(USER.into()),
        recipient_user_id: None,
        errors: vec![],
        conversation: None,
        pricing: None,
        biz_opaque_callback_data: None,
        raw,
    }
}

fn error(code: i64, title: &str, details: &str) -> ErrorDetail {
    ErrorDetail {
        code: Some(code),
        title: Some(title.into()),
        message: Some(title.into()),
        details: Some(details.into()),
        href: None,
    }
}

#[test]
fn text_from_metas_reference_example() {
    let (value, batch) = load("text");
    let change = single_change(&batch);
    let expected = MessagesChange {
        metadata: meta(),
        contacts: vec![sheena()],
        messages: vec![InboundMessage {
            id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=".into(),
            from: Some(USER.into()),
            from_user_id: None,
            group_id: None,
            timestamp: datetime!(2025-06-08 20:59:43 UTC),
            context: None,
            referral: None,
            errors: vec![],
            kind: MessageKind::Text {
                body: "Does it come in another color?".into(),
            },
            raw: item(&value, "messages", 0),
        }],
        statuses: vec![],
        errors: vec![],
    };
    assert_eq!(change, &expected);
    let m = &change.messages[0];
    assert_eq!(m.kind_name(), "text");
    assert_eq!(m.preview_text(), "Does it come in another color?");
    assert_eq!(m.reply_to(), None);
}

#[test]
fn text_reply_keeps_the_context() {
    let (raw, m) = single_message("text_reply");
    let original = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
    assert_eq!(
        m,
        InboundMessage {
            context: reply_context(original),
            ..message(
                "QTJBMDAwMDAwMDAwMDAxAA==",
                MessageKind::Text {
                    body: "Yes, the blue one please".into()
                },
                raw
            )
        }
    );
    assert_eq!(m.reply_to(), Some(original));
}

#[test]
fn forwarded_text_keeps_the_flags() {
    let (raw, m) = single_message("text_forwarded");
    assert_eq!(
        m,
        InboundMessage {
            context: Some(MessageContext {
                forwarded: true,
                frequently_forwarded: true,
                ..MessageContext::default()
            }),
            ..message(
                "QTJBMDAwMDAwMDAwMDAyAA==",
                MessageKind::Text {
                    body: "Check out this deal!".into()
                },
                raw
            )
        }
    );
    assert_eq!(m.reply_to(), None);
}

#[test]
fn image() {
    let (raw, m) = single_message("image");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDAzAA==",
            MessageKind::Image {
                media: Media {
                    caption: Some("This is the one I want".into()),
                    url: Some(
                        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1003383421387256"
                            .into()
                    ),
                    ..media(
                        "1003383421387256",
                        "image/jpeg",
                        "uKAx/wTMMAUB4dbjHV+vMHLm2lMG6GW8JpBVHQ0DD6E="
                    )
                }
            },
            raw
        )
    );
    assert_eq!(m.kind_name(), "image");
    assert_eq!(m.preview_text(), "[image] This is the one I want");
}

#[test]
fn video() {
    let (raw, m) = single_message("video");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDA0AA==",
            MessageKind::Video {
                media: Media {
                    caption: Some("Unboxing".into()),
                    ..media(
                        "1166846181421424",
                        "video/mp4",
                        "2xNjcL9mH3hP7vvp5Uw/wT8E5J3mWXHLfX0y6GkYV1E="
                    )
                }
            },
            raw
        )
    );
    assert_eq!(m.kind_name(), "video");
    assert_eq!(m.preview_text(), "[video] Unboxing");
}

#[test]
fn audio_voice_note() {
    let (raw, m) = single_message("audio_voice");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDA1AA==",
            MessageKind::Audio {
                media: media(
                    "1003383421387257",
                    "audio/ogg; codecs=opus",
                    "zlGp3eVyo+a9GlRpe4PYfxLo1ANgxkHmE1qOs3PvcPM="
                ),
                voice: true
            },
            raw
        )
    );
    assert_eq!(m.kind_name(), "audio");
    assert_eq!(m.preview_text(), "[voice message]");
}

#[test]
fn document_is_stored_as_file() {
    let (raw, m) = single_message("document");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDA2AA==",
            MessageKind::Document {
                media: Media {
                    caption: Some("Signed contract".into()),
                    filename: Some("contract-2025.pdf".into()),
                    ..media(
                        "1003383421387258",
                        "application/pdf",
                        "xeWlzHtrvxZ8Ypr1gZ3bDHsxHsMLxw3E6gO8qj5dZ2o="
                    )
                }
            },
            raw
        )
    );
    assert_eq!(m.kind_name(), "file");
    assert_eq!(
        m.preview_text(),
        "[file] contract-2025.pdf - Signed contract"
    );
}

#[test]
fn sticker() {
    let (raw, m) = single_message("sticker");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDA3AA==",
            MessageKind::Sticker {
                media: media(
                    "1003383421387259",
                    "image/webp",
                    "J9p+0J3Gm2Tf0p1r0zEJQ6rJ4UIQw5E1bZLwE3mYy9s="
                ),
                animated: false
            },
            raw
        )
    );
    assert_eq!(m.kind_name(), "sticker");
    assert_eq!(m.preview_text(), "[sticker]");
}

#[test]
fn location() {
    let (raw, m) = single_message("location");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDA4AA==",
            MessageKind::Location {
                latitude: 37.483307,
                longitude: -122.148981,
                name: Some("Main Street Beach".into()),
                address: Some("1 Hacker Way, Menlo Park, CA 94025".into()),
                url: Some("https://www.example.com".into()),
            },
            raw
        )
    );
    assert_eq!(m.kind_name(), "location");
    assert_eq!(
        m.preview_text(),
        "[location] Main Street Beach, 1 Hacker Way, Menlo Park, CA 94025"
    );
}

#[test]
fn shared_contacts() {
    let (raw, m) = single_message("contacts");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDA5AA==",
            MessageKind::Contacts {
                contacts: vec![SharedContact {
                    formatted_name: Some("Kerry Fisher".into()),
                    phones: vec![
                        SharedPhone {
                            phone: Some("+1 (650) 555-1234".into()),
                            wa_id: Some("16505551234".into()),
                            phone_type: Some("WORK".into()),
                        },
                        SharedPhone {
                            phone: Some("+1 (650) 555-0000".into()),
                            wa_id: None,
                            phone_type: Some("HOME".into()),
                        },
                    ],
                }]
            },
            raw
        )
    );
    assert_eq!(m.kind_name(), "contacts");
    assert_eq!(m.preview_text(), "[contact] Kerry Fisher");
}

#[test]
fn interactive_button_reply() {
    let (raw, m) = single_message("interactive_button_reply");
    assert_eq!(
        m,
        InboundMessage {
            context: reply_context("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJCMTJBMkI2MTFGRDk2QkU2NUEA"),
            ..message(
                "QTJBMDAwMDAwMDAwMDEwAA==",
                MessageKind::Interactive {
                    reply: InteractiveReply::ButtonReply {
                        id: "change-button".into(),
                        title: "Change".into()
                    }
                },
                raw
            )
        }
    );
    assert_eq!(m.kind_name(), "interactive");
    assert_eq!(m.preview_text(), "Change");
}

#[test]
fn interactive_list_reply() {
    let (raw, m) = single_message("interactive_list_reply");
    assert_eq!(
        m,
        InboundMessage {
            context: reply_context("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJCMTJBMkI2MTFGRDk2QkU2NUIA"),
            ..message(
                "QTJBMDAwMDAwMDAwMDExAA==",
                MessageKind::Interactive {
                    reply: InteractiveReply::ListReply {
                        id: "priority_express".into(),
                        title: "Express Shipping".into(),
                        description: Some("Next Day to 2 Days".into())
                    }
                },
                raw
            )
        }
    );
    assert_eq!(m.kind_name(), "interactive");
    assert_eq!(m.preview_text(), "Express Shipping");
}

#[test]
fn interactive_flow_reply() {
    let (raw, m) = single_message("interactive_nfm_reply");
    assert_eq!(
        m,
        InboundMessage {
            context: reply_context("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJCMTJBMkI2MTFGRDk2QkU2NUMA"),
            ..message(
                "QTJBMDAwMDAwMDAwMDEyAA==",
                MessageKind::Interactive {
                    reply: InteractiveReply::NfmReply {
                        name: Some("flow".into()),
                        body: Some("Sent".into()),
                        response_json: Some(
                            r#"{"flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.", "optional_param1": "<value1>"}"#
                                .into()
                        )
                    }
                },
                raw
            )
        }
    );
    assert_eq!(m.kind_name(), "interactive");
    assert_eq!(m.preview_text(), "[form reply] Sent");
}

#[test]
fn template_quick_reply_button() {
    let (raw, m) = single_message("button");
    assert_eq!(
        m,
        InboundMessage {
            context: reply_context("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJGNDYwQjY2QjdGMjE3MTM2MDgA"),
            ..message(
                "QTJBMDAwMDAwMDAwMDEzAA==",
                MessageKind::Button {
                    payload: Some("STOP_PROMOTIONS".into()),
                    text: Some("Stop promotions".into())
                },
                raw
            )
        }
    );
    assert_eq!(m.kind_name(), "interactive");
    assert_eq!(m.preview_text(), "Stop promotions");
}

#[test]
fn reaction() {
    let (raw, m) = single_message("reaction");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDE0AA==",
            MessageKind::Reaction {
                message_id: SENT_WAMID.into(),
                emoji: Some("👍".into())
            },
            raw
        )
    );
    assert_eq!(m.kind_name(), "reaction");
    assert_eq!(m.preview_text(), "[reaction] 👍");
}

#[test]
fn removed_reaction_has_no_emoji() {
    let (raw, m) = single_message("reaction_removed");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDE1AA==",
            MessageKind::Reaction {
                message_id: SENT_WAMID.into(),
                emoji: None
            },
            raw
        )
    );
    assert_eq!(m.kind_name(), "reaction");
    assert_eq!(m.preview_text(), "[reaction removed]");
}

#[test]
fn order() {
    let (raw, m) = single_message("order");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDE2AA==",
            MessageKind::Order {
                order: Order {
                    catalog_id: Some("194836987003835".into()),
                    text: Some("Please deliver before Friday".into()),
                    product_items: vec![
                        ProductItem {
                            product_retailer_id: Some("di9ozbzfi4".into()),
                            quantity: Some(2),
                            item_price: Some(30.0),
                            currency: Some("USD".into()),
                        },
                        ProductItem {
                            product_retailer_id: Some("nqryix03ez".into()),
                            quantity: Some(1),
                            item_price: Some(25.5),
                            currency: Some("USD".into()),
                        },
                    ],
                }
            },
            raw
        )
    );
    assert_eq!(m.kind_name(), "interactive");
    assert_eq!(
        m.preview_text(),
        "[order] 2 items - Please deliver before Friday"
    );
}

#[test]
fn ad_referral_is_kept_on_the_message() {
    let (raw, m) = single_message("referral");
    assert_eq!(
        m,
        InboundMessage {
            referral: Some(Referral {
                source_url: Some("https://fb.me/3cr4Wqqkv".into()),
                source_id: Some("120226305854810726".into()),
                source_type: Some("ad".into()),
                body: Some("Summer succulents are here!".into()),
                headline: Some("Chat with us".into()),
                media_type: Some("image".into()),
                image_url: Some("https://scontent.xx.fbcdn.net/v/t45.1600-4/518.png".into()),
                video_url: None,
                thumbnail_url: None,
                ctwa_clid: Some(
                    "Aff-n8ZTODiE79d22KtAwQKj9e_mIEOOj27vDVwFjN80dp4_0NiNhEgpGo0AHemvuSoifXaytfTzcchptiErTKCqTrJ5nW1h7IHYeYymGb5K5J5iOROcTbxzEbUhF9CJTvmrM1kZIdl5Q"
                        .into()
                ),
            }),
            ..message(
                "QTJBMDAwMDAwMDAwMDE3AA==",
                MessageKind::Text {
                    body: "Can I get more info about this?".into()
                },
                raw
            )
        }
    );
    assert_eq!(m.kind_name(), "text");
}

#[test]
fn system_number_change_has_no_contacts() {
    let (value, batch) = load("system");
    let change = single_change(&batch);
    assert!(change.contacts.is_empty());
    assert_eq!(change.messages.len(), 1);
    let m = &change.messages[0];
    assert_eq!(
        m,
        &message(
            "QTJBMDAwMDAwMDAwMDE4AA==",
            MessageKind::System {
                system: SystemEvent {
                    event_type: Some("user_changed_number".into()),
                    body: Some("User Sheena Nelson changed from 16505551234 to 16505559999".into()),
                    new_wa_id: Some("16505559999".into()),
                    user_id: Some("US.13491208655302741918".into()),
                    previous_user_id: Some("US.10000000000000000001".into()),
                }
            },
            item(&value, "messages", 0)
        )
    );
    assert_eq!(change.contact_for(m), None);
    assert_eq!(m.kind_name(), "unsupported");
    assert_eq!(
        m.preview_text(),
        "[system] User Sheena Nelson changed from 16505551234 to 16505559999"
    );
}

#[test]
fn unsupported_keeps_its_errors() {
    let (raw, m) = single_message("unsupported");
    assert_eq!(
        m,
        InboundMessage {
            errors: vec![error(
                131051,
                "Message type unknown",
                "Message type is currently not supported."
            )],
            ..message(
                "QTJBMDAwMDAwMDAwMDE5AA==",
                MessageKind::Unsupported {
                    original_type: Some("edit".into())
                },
                raw
            )
        }
    );
    assert_eq!(m.kind_name(), "unsupported");
    assert_eq!(m.preview_text(), "[unsupported message type: edit]");
}

#[test]
fn an_unknown_type_without_content_is_unknown_not_an_error() {
    let (raw, m) = single_message("unknown_type");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDIwAA==",
            MessageKind::Unknown {
                type_name: "request_welcome".into(),
                raw: Value::Null
            },
            raw
        )
    );
    assert_eq!(m.kind_name(), "unsupported");
    assert_eq!(
        m.preview_text(),
        "[unsupported message type: request_welcome]"
    );
}

#[test]
fn an_unknown_type_keeps_its_content_raw() {
    let (raw, m) = single_message("poll_unknown");
    assert_eq!(
        m,
        message(
            "QTJBMDAwMDAwMDAwMDIxAA==",
            MessageKind::Unknown {
                type_name: "poll".into(),
                raw: json!({"question": "Lunch?", "options": ["Pizza", "Sushi"]})
            },
            raw
        )
    );
    assert_eq!(m.preview_text(), "[unsupported message type: poll]");
}

#[test]
fn a_username_user_without_phone_number() {
    let (value, batch) = load("user_id_only");
    let change = single_change(&batch);
    let contact = Contact {
        wa_id: None,
        user_id: Some("ES.1502576394655843".into()),
        parent_user_id: Some("ES.ENT.11815799212886844830".into()),
        profile_name: Some("Ana".into()),
        username: Some("@ana.plants".into()),
    };
    assert_eq!(change.contacts, vec![contact]);
    let expected = InboundMessage {
        id: "wamid.HBgTRVMuMTUwMjU3NjM5NDY1NTg0MxUCABIYFDNBMkEwMDAwMDAwMDAwMDIyAA==".into(),
        from: None,
        from_user_id: Some("ES.1502576394655843".into()),
        group_id: None,
        timestamp: datetime!(2025-06-08 22:04:00 UTC),
        context: None,
        referral: None,
        errors: vec![],
        kind: MessageKind::Text {
            body: "Hola, ¿tenéis envío a Canarias?".into(),
        },
        raw: item(&value, "messages", 0),
    };
    assert_eq!(change.messages, vec![expected]);
    assert_eq!(
        change.contact_for(&change.messages[0]),
        Some(&change.contacts[0])
    );
}

#[test]
fn a_group_message_carries_its_group_id() {
    let (raw, m) = single_message("group_text");
    assert_eq!(
        m,
        InboundMessage {
            group_id: Some("Y2FwaV9ncm91cDoxNjUwNTU1MTIzNDoxMjAzNjMzOTQ2MDM3NzgzNzcZD".into()),
            ..message(
                "R1JPVVAwMDAwMDAwMDAxAA==",
                MessageKind::Text {
                    body: "Hi everyone, when does the store open?".into()
                },
                raw
            )
        }
    );
}

#[test]
fn unicode_and_emoji_text_survive_unchanged() {
    let (value, batch) = load("unicode_text");
    let change = single_change(&batch);
    assert_eq!(
        change.contacts[0].profile_name.as_deref(),
        Some("José Müller 😀")
    );
    let body = "Olá! Café ☕ com pão de queijo 🧀👍🏽 — 日本語もOK? Ñandú «ß» 👨‍👩‍👧";
    assert_eq!(
        change.messages,
        vec![message(
            "QTJBMDAwMDAwMDAwMDIzAA==",
            MessageKind::Text { body: body.into() },
            item(&value, "messages", 0)
        )]
    );
    assert_eq!(change.messages[0].preview_text(), body);
}

#[test]
fn status_sent_keeps_conversation_and_pricing_raw() {
    let (value, batch) = load("status_sent");
    let change = single_change(&batch);
    assert!(change.messages.is_empty() && change.contacts.is_empty());
    let raw = item(&value, "statuses", 0);
    assert_eq!(
        change.statuses,
        vec![Status {
            conversation: Some(raw["conversation"].clone()),
            pricing: Some(json!({
                "billable": false, "pricing_model": "PMP", "category": "service",
                "type": "free_customer_service"
            })),
            ..status(
                SENT_WAMID,
                StatusKind::Sent,
                datetime!(2025-06-08 20:59:50 UTC),
                raw.clone()
            )
        }]
    );
    assert_eq!(
        change.statuses[0].conversation.as_ref().unwrap()["origin"]["type"],
        "service"
    );
}

#[test]
fn status_delivered_with_user_id_and_callback_data() {
    let (value, batch) = load("status_delivered");
    let change = single_change(&batch);
    let raw = item(&value, "statuses", 0);
    assert_eq!(
        change.statuses,
        vec![Status {
            recipient_user_id: Some("US.13491208655302741918".into()),
            biz_opaque_callback_data: Some("msg:8f14e45f-ceea-467f-a8f0-0c3f7d1b2a9e".into()),
            pricing: Some(raw["pricing"].clone()),
            ..status(
                SENT_WAMID,
                StatusKind::Delivered,
                datetime!(2025-06-08 21:00:00 UTC),
                raw.clone()
            )
        }]
    );
}

#[test]
fn status_read() {
    let (value, batch) = load("status_read");
    let change = single_change(&batch);
    assert_eq!(
        change.statuses,
        vec![status(
            SENT_WAMID,
            StatusKind::Read,
            datetime!(2025-06-08 21:01:40 UTC),
            item(&value, "statuses", 0)
        )]
    );
}

#[test]
fn failed_statuses_carry_their_errors() {
    let (value, batch) = load("status_failed");
    let change = single_change(&batch);
    assert_eq!(
        change.statuses,
        vec![
            Status {
                biz_opaque_callback_data: Some("broadcast:42:recipient:7".into()),
                errors: vec![ErrorDetail {
                    href: Some(
                        "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
                            .into()
                    ),
                    ..error(
                        131047,
                        "Re-engagement message",
                        "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
                    )
                }],
                ..status(
                    "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJGQUlMRURNRVNTQUdFMDAxAA==",
                    StatusKind::Failed,
                    datetime!(2025-06-08 22:00:00 UTC),
                    item(&value, "statuses", 0)
                )
            },
            Status {
                recipient_id: Some("34600123456".into()),
                errors: vec![error(
                    131026,
                    "Message undeliverable",
                    "Message Undeliverable."
                )],
                ..status(
                    "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJGQUlMRURNRVNTQUdFMDAyAA==",
                    StatusKind::Failed,
                    datetime!(2025-06-08 22:01:00 UTC),
                    item(&value, "statuses", 1)
                )
            }
        ]
    );
    let classes: Vec<_> = change
        .statuses
        .iter()
        .map(|s| whatsapp::classify(s.errors[0].code, None))
        .collect();
    assert_eq!(
        classes,
        [
            whatsapp::ErrorClass::WindowClosed,
            whatsapp::ErrorClass::Permanent
        ]
    );
}

#[test]
fn played_is_known_and_other_statuses_are_unknown() {
    let (value, batch) = load("status_played_and_unknown");
    let change = single_change(&batch);
    assert_eq!(
        change.statuses,
        vec![
            status(
                "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJWT0lDRU5PVEUwMDEA",
                StatusKind::Played,
                datetime!(2025-06-08 22:02:00 UTC),
                item(&value, "statuses", 0)
            ),
            status(
                "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJWT0lDRU5PVEUwMDIA",
                StatusKind::Unknown("deleted".into()),
                datetime!(2025-06-08 22:03:00 UTC),
                item(&value, "statuses", 1)
            ),
        ]
    );
}

#[test]
fn change_level_errors() {
    let (_, batch) = load("value_errors");
    let change = single_change(&batch);
    assert_eq!(
        change,
        &MessagesChange {
            metadata: meta(),
            contacts: vec![],
            messages: vec![],
            statuses: vec![],
            errors: vec![error(
                131000,
                "Something went wrong",
                "Message failed to send due to an unknown error."
            )],
        }
    );
}

#[test]
fn other_fields_are_kept_as_ignored_changes() {
    let (value, batch) = load("ignored_field");
    assert!(batch.problems.is_empty());
    assert_eq!(
        batch.entries[0].changes,
        vec![Change::Ignored(IgnoredChange {
            field: "message_template_status_update".into(),
            value: value["entry"][0]["changes"][0]["value"].clone(),
        })]
    );
    assert_eq!(batch.messages().count(), 0);
    assert_eq!(batch.ignored_changes().count(), 1);
}

#[test]
fn a_batch_of_two_entries_and_two_changes_each_is_walked_completely() {
    let (value, batch) = load("batch_multi");
    assert!(batch.problems.is_empty(), "{:#?}", batch.problems);
    assert_eq!(batch.entries.len(), 2);
    assert_eq!(batch.entries[0].id.as_deref(), Some("102290129340398"));
    assert_eq!(batch.entries[1].id.as_deref(), Some("200000000000001"));
    assert!(batch.entries.iter().all(|e| e.changes.len() == 2));

    let ids: Vec<(&str, &str)> = batch
        .messages()
        .map(|(c, m)| (c.metadata.phone_number_id.as_str(), m.id.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            (
                "106540352242922",
                "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQkFUQ0gwMDAwMDAwMDAxAA=="
            ),
            (
                "106540352242922",
                "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQkFUQ0gwMDAwMDAwMDAyAA=="
            ),
            (
                "106540352242922",
                "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQkFUQ0gwMDAwMDAwMDAzAA=="
            ),
            (
                "200000000000002",
                "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQkFUQ0gwMDAwMDAwMDA0AA=="
            ),
            (
                "200000000000002",
                "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQkFUQ0gwMDAwMDAwMDA1AA=="
            ),
        ]
    );
    let senders: Vec<Option<&str>> = batch
        .messages()
        .map(|(c, m)| c.contact_for(m).and_then(|k| k.profile_name.as_deref()))
        .collect();
    assert_eq!(
        senders,
        [
            Some("Sheena Nelson"),
            Some("Kerry Fisher"),
            Some("Sheena Nelson"),
            Some("Luis"),
            Some("Luis")
        ]
    );
    let kinds: Vec<&str> = batch.messages().map(|(_, m)| m.kind_name()).collect();
    assert_eq!(kinds, ["text", "text", "image", "reaction", "location"]);
    let previews: Vec<String> = batch.messages().map(|(_, m)| m.preview_text()).collect();
    assert_eq!(
        previews,
        [
            "first",
            "second",
            "[image]",
            "[reaction] ❤️",
            "[location] 40.4168, -3.7038"
        ]
    );

    let statuses: Vec<(&str, &str, i64)> = batch
        .statuses()
        .map(|(_, s)| {
            (
                s.id.as_str(),
                s.status.as_str(),
                s.timestamp.unix_timestamp(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("wamid.OUT1", "sent", 1_749_420_003),
            ("wamid.OUT1", "delivered", 1_749_420_004),
            ("wamid.OUT2", "read", 1_749_420_005),
            ("wamid.OUT3", "failed", 1_749_420_008),
        ]
    );
    let (_, failed) = batch.statuses().nth(3).expect("four statuses");
    assert_eq!(failed.errors[0].code, Some(130_429));
    assert_eq!(
        whatsapp::classify(failed.errors[0].code, None),
        whatsapp::ErrorClass::Retryable
    );

    assert_eq!(
        batch.ignored_changes().collect::<Vec<_>>(),
        [&IgnoredChange {
            field: "account_update".into(),
            value: value["entry"][1]["changes"][1]["value"].clone(),
        }]
    );
}

#[test]
fn malformed_items_become_problems_and_the_rest_survives() {
    let (value, batch) = load("malformed_items");
    let change = match &batch.entries[0].changes[0] {
        Change::Messages(c) => c,
        Change::Ignored(_) => panic!("messages change expected"),
    };
    assert_eq!(change.contacts, vec![sheena()]);
    let ids: Vec<&str> = change.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["wamid.NOMEDIAID", "wamid.GOOD"]);
    assert_eq!(
        change.messages[0].kind,
        MessageKind::Malformed {
            type_name: "image".into(),
            reason: "media has no id".into()
        }
    );
    assert_eq!(
        change.messages[0].preview_text(),
        "[unreadable image message]"
    );
    assert_eq!(
        change
            .statuses
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        ["wamid.OUTX"]
    );

    let base = "entry[0].changes[0].value";
    let problems: Vec<(String, &str)> = batch
        .problems
        .iter()
        .map(|p| (p.path.clone(), p.description.as_str()))
        .collect();
    assert_eq!(
        problems,
        [
            (
                format!("{base}.contacts[1]"),
                "contact has neither wa_id nor user_id"
            ),
            (format!("{base}.messages[0]"), "message has no id"),
            (
                format!("{base}.messages[1]"),
                "message has a bad timestamp \"yesterday\""
            ),
            (
                format!("{base}.messages[2]"),
                "message has neither from nor from_user_id"
            ),
            (format!("{base}.messages[3]"), "message is not an object"),
            (
                format!("{base}.messages[4]"),
                "message of type image kept as malformed: media has no id"
            ),
            (format!("{base}.statuses[0]"), "status has no id"),
        ]
    );
    assert_eq!(batch.problems[1].raw, item(&value, "messages", 0));
}

/// Every fixture serializes to JSON (with the derived `message_type` and
/// `preview_text`) and reads back to the same batch.
#[test]
fn every_fixture_round_trips_through_json() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("fixture dir") {
        let path = entry.expect("dir entry").path();
        let bytes = std::fs::read(&path).expect("readable");
        let batch = WebhookBatch::parse(&bytes).expect("fixture parses");
        let json = serde_json::to_value(&batch).expect("serializes");
        for (_, m) in batch.messages() {
            let wire = json["entries"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| e["changes"].as_array().into_iter().flatten())
                .flat_map(|c| c["messages"].as_array().into_iter().flatten())
                .find(|w| w["id"] == m.id.as_str())
                .expect("message serialized");
            assert_eq!(wire["message_type"], m.kind_name());
            assert_eq!(wire["preview_text"], m.preview_text().as_str());
            assert_eq!(
                wire["timestamp"],
                m.timestamp
                    .format(&time::format_description::well_known::Rfc3339)
                    .expect("formats")
                    .as_str()
            );
        }
        let back: WebhookBatch = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, batch, "{}", path.display());
        count += 1;
    }
    assert!(count >= 30, "only {count} fixtures");
}

#[test]
fn serialized_kinds_are_tagged_by_whatsapp_type() {
    let (_, batch) = load("document");
    let json = serde_json::to_value(&batch).expect("serializes");
    let wire = &json["entries"][0]["changes"][0]["messages"][0];
    assert_eq!(json["entries"][0]["changes"][0]["kind"], "messages");
    assert_eq!(wire["kind"]["type"], "document");
    assert_eq!(wire["kind"]["media"]["filename"], "contract-2025.pdf");
    assert_eq!(wire["message_type"], "file");
    assert_eq!(wire["timestamp"], "2025-06-08T20:59:43Z");
}
