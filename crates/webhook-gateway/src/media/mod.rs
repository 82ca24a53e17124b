//! Media: inbound attachments fetched from the Graph API into the media store (a leased
//! queue in `svc`), and served to browsers through short-lived signed links.

pub mod fetcher;
pub mod graph;
pub mod limits;
pub mod settings;
pub mod store;

pub use settings::MediaSettings;
pub use store::{MediaStore, StoreLocation};
