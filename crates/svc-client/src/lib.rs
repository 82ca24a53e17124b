//! The services' only way to the database: functions in schema `svc`, called through
//! PostgREST with the service-role key (one call = one transaction).
//!
//! postgrest-rs (and its reqwest 0.11) stays inside this crate; callers see typed
//! functions, the request and result types of the `svc` API, and [`SvcError`]. Results
//! decode strictly: a column the SQL may answer as null is still required to be there,
//! so a renamed key is an error rather than a silent default. `tests/contract.rs` keeps
//! the types and the SQL signatures in step.

pub mod batch;
pub mod broadcasts;
mod client;
pub mod contract;
mod error;
mod invitations;
mod media;
mod media_uploads;
mod outbound;
mod outcomes;
mod read_receipts;
mod rpc;
mod settings;
pub mod templates;
mod webhooks;

pub use broadcasts::{BroadcastProgress, ClaimedRecipient, CompletedBroadcasts, StartedBroadcast};
pub use client::SvcClient;
pub use error::SvcError;
pub use invitations::{ClaimedInvitation, InviteeEmail};
pub use media::{ClaimedMediaFetch, MediaFailure, MediaRetryOutcome, StoredMedia};
pub use media_uploads::UploadedMedia;
pub use outbound::{ClaimedJob, HeldCounts, HeldOutcomes, OutboundStatus, SendingPause};
pub use outcomes::{BroadcastOutcome, OutboundOutcome, OutcomeBatcher, RecordedOutcome};
pub use read_receipts::{ReadReceipt, ReceiptError};
pub use settings::{ProjectUrl, SupabaseSettings};
pub use templates::{
    ClaimedTemplateSync, LearnedMessagingLimit, ListedTemplate, TemplateEvent, TemplateSyncCounts,
    UpsertedTemplates,
};
pub use webhooks::{
    EventCounts, Events, IncomingWebhook, JournalErasureReport, JournalExportReport, MessageEvent,
    QueuedStatusesReport, RawPayload, ReplayReport, StatusEvent, StoredWebhook, WebhookBacklog,
};
