//! A local stand-in for Meta's WhatsApp Cloud API, for tests, benchmarks and the
//! local demo.
//!
//! - **Graph API subset**: `POST /{version}/{phone-number-id}/messages` with
//!   `Authorization: Bearer <token>`: text, media by link or id (image, audio,
//!   video, document with caption and filename, sticker), location, template
//!   (name, language, components), reaction, interactive, contacts, reply
//!   context, `biz_opaque_callback_data`, and mark-as-read. Checked like Meta
//!   (401 code 190, 400 code 100 with a message naming the parameter) and
//!   answered like Meta (`{"messaging_product":"whatsapp","contacts":[{"input",
//!   "wa_id"}],"messages":[{"id":"wamid..."}]}`; mark-as-read `{"success":true}`).
//! - **Meta's rules**: the 24-hour customer service window (131047 for
//!   non-templates), a throughput limit per phone number over a sliding
//!   1-second window (400 code 130429), approved templates only (132001).
//! - **Templates**: `GET /{version}/{waba-id}/message_templates` with cursor paging;
//!   a template's status or category changed on command sends the matching
//!   `message_template_status_update` / `template_category_update` webhook; a paused
//!   template answers 132015, a disabled one 132016.
//! - **Status webhooks** (sent, delivered, read; configurable delays, duplicates,
//!   reordering, batching), signed with `X-Hub-Signature-256` over the exact
//!   bytes, retried on non-2xx like Meta; **inbound injection** of a customer's
//!   text.
//! - **Faults** on demand ([`Faults`]): 5xx, timeouts, 130429 bursts, permanent
//!   errors per recipient, revoked token.
//! - **Recorder**: every accepted message with its receive time, stats with the
//!   densest 1-second window, every webhook attempt.
//!
//! In-process:
//!
//! ```no_run
//! # async fn demo() -> Result<(), whatsapp_simulator::SimulatorError> {
//! use whatsapp_simulator::{Faults, Simulator, SimulatorConfig};
//!
//! let sim = Simulator::start(SimulatorConfig::for_tests("106540352242922", "token", "app-secret")).await?;
//! // WHATSAPP_GRAPH_URL = sim.graph_url(); start the gateway, then:
//! sim.set_webhook_url("http://127.0.0.1:8080/webhooks/whatsapp")?;
//! let injected = sim.inject_inbound("34600123456", "Hola").await?;
//! sim.set_faults(Faults::server_errors(2));
//! let sent = sim.wait_for_received(1, std::time::Duration::from_secs(5)).await?;
//! assert!(sim.max_in_any_one_second_window() <= 80);
//! # Ok(()) }
//! ```
//!
//! From another process, [`SimulatorClient`] drives the admin API (see
//! [`admin`] for the endpoints). The binary `whatsapp-simulator` is configured
//! by the environment (see [`SimulatorConfig::from_env`]).

pub mod admin;
mod client;
mod config;
mod error;
mod faults;
mod graph;
mod latency;
pub mod media;
mod recorder;
mod request;
mod server;
mod state;
mod template_list;
mod timefmt;
mod webhooks;

pub use admin::WindowRequest;
pub use client::SimulatorClient;
pub use config::{
    default_templates, SimulatorConfig, StatusWebhooks, TemplateChange, TemplateSpec, DEFAULT_ADDR,
    DEFAULT_DISPLAY_PHONE_NUMBER, DEFAULT_MAX_MPS, DEFAULT_WABA_ID,
};
pub use error::SimulatorError;
pub use faults::{Faults, RecipientError, ServerErrorKind};
pub use latency::AnswerLatency;
pub use media::{InboundMedia, MediaFaults, MediaStats, SampleKind, UploadedMedia};
pub use recorder::{MarkedRead, ReceivedMessage, SecondCount, Stats, WebhookDelivery, WebhookKind};
pub use server::{Simulator, SimulatorHandle};
pub use state::{ConfigPatch, RuntimeConfig};
pub use timefmt::format as format_rfc3339_ms;
pub use webhooks::{InboundSpec, InjectedInbound};
