//! WhatsApp's limits for media, per kind: the largest file and the MIME types Meta
//! supports (Cloud API "Supported media types"). An inbound file that breaks them fails
//! for good with a code the frontend shows; it is never stored.

/// A broken limit, as `metadata.media.error` on the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    pub code: &'static str,
    pub title: &'static str,
    pub details: String,
}

const MB: u64 = 1024 * 1024;
const KB: u64 = 1024;

const IMAGE: &[&str] = &["image/jpeg", "image/png"];
const AUDIO: &[&str] = &[
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
];
const VIDEO: &[&str] = &["video/mp4", "video/3gpp"];
const STICKER: &[&str] = &["image/webp"];
const DOCUMENT: &[&str] = &[
    "text/plain",
    "text/csv",
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/zip",
    "application/octet-stream",
];

/// The largest file of `kind` (image 5 MB, audio and video 16 MB, document 100 MB, sticker
/// 100 KB static, 500 KB animated); `None` for a kind that carries no media.
pub fn max_size(kind: &str, animated: bool) -> Option<u64> {
    Some(match kind {
        "image" => 5 * MB,
        "audio" | "video" => 16 * MB,
        "document" => 100 * MB,
        "sticker" if animated => 500 * KB,
        "sticker" => 100 * KB,
        _ => return None,
    })
}

fn allowed_types(kind: &str) -> &'static [&'static str] {
    match kind {
        "image" => IMAGE,
        "audio" => AUDIO,
        "video" => VIDEO,
        "document" => DOCUMENT,
        "sticker" => STICKER,
        _ => &[],
    }
}

/// `audio/ogg; codecs=opus` -> `audio/ogg`.
pub fn essence(mime_type: &str) -> String {
    mime_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Checks a file Meta describes (its MIME type and size) against the limits of `kind`.
pub fn check(kind: &str, animated: bool, mime_type: &str, size: u64) -> Result<(), LimitError> {
    let Some(max) = max_size(kind, animated) else {
        return Err(LimitError {
            code: "media_kind_unknown",
            title: "This kind of attachment is not supported",
            details: format!("WhatsApp kind {kind:?} carries no media"),
        });
    };
    let essence = essence(mime_type);
    if !allowed_types(kind).contains(&essence.as_str()) {
        return Err(LimitError {
            code: "media_type_not_allowed",
            title: "This type of file is not supported",
            details: format!(
                "{kind} of type {essence}; WhatsApp allows {}",
                allowed_types(kind).join(", ")
            ),
        });
    }
    if size > max {
        return Err(LimitError {
            code: "media_too_large",
            title: "The attachment is too large",
            details: format!("{kind} of {size} bytes; WhatsApp allows {max} bytes"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_metas_size_limit() {
        assert!(check("image", false, "image/png", 5 * MB).is_ok());
        assert_eq!(
            check("image", false, "image/png", 5 * MB + 1)
                .unwrap_err()
                .code,
            "media_too_large"
        );
        assert!(check("video", false, "video/mp4", 16 * MB).is_ok());
        assert_eq!(
            check("audio", false, "audio/ogg; codecs=opus", 16 * MB + 1)
                .unwrap_err()
                .code,
            "media_too_large"
        );
        assert!(check("document", false, "application/pdf", 100 * MB).is_ok());
        assert_eq!(
            check("sticker", false, "image/webp", 100 * KB + 1)
                .unwrap_err()
                .code,
            "media_too_large"
        );
        assert!(check("sticker", true, "image/webp", 500 * KB).is_ok());
    }

    #[test]
    fn types_are_checked_on_their_essence() {
        assert!(check("audio", false, "audio/ogg; codecs=opus", 10).is_ok());
        assert!(check("image", false, "IMAGE/JPEG", 10).is_ok());
        let err = check("image", false, "image/gif", 10).unwrap_err();
        assert_eq!(err.code, "media_type_not_allowed");
        assert!(err.details.contains("image/gif"), "{}", err.details);
        assert_eq!(
            check("sticker", false, "image/png", 10).unwrap_err().code,
            "media_type_not_allowed"
        );
        assert_eq!(
            check("location", false, "image/png", 10).unwrap_err().code,
            "media_kind_unknown"
        );
    }
}
