//! Signed media links: `/media/{message_id}?exp=<unix seconds>&sig=<hex>`, where
//! `sig = HMAC-SHA256(MEDIA_LINK_SECRET, "<message_id>.<exp>")`. The database mints them
//! (`public.media_link`, only for a message the caller can read); the gateway checks them
//! with the same key and no database call.
//!
//! Upload links (outbound attachments, `public.media_upload_link`) use the same key over
//! `"upload.<upload_id>.<kind>.<exp>"`: `/media/uploads/{upload_id}?kind=…&exp=…&sig=…`.
//! The prefix keeps a viewing link and an upload link from standing for each other.

use hmac::{Hmac, Mac};
use service_runtime::Secret;
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// Why a link is refused (both answer 403: nothing tells which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// The signature is missing, malformed or not ours.
    Forged,
    /// Past `exp`.
    Expired,
}

/// The key of signed media links.
#[derive(Clone)]
pub struct LinkKey(Secret);

impl LinkKey {
    pub fn new(secret: Secret) -> Self {
        Self(secret)
    }

    fn mac(&self, signed: &str) -> HmacSha256 {
        // HMAC takes keys of any length.
        let mut mac = HmacSha256::new_from_slice(self.0.expose().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(signed.as_bytes());
        mac
    }

    fn check(&self, signed: &str, exp: i64, sig: &str, now: i64) -> Result<(), LinkRefusal> {
        let sig = hex::decode(sig).map_err(|_| LinkRefusal::Forged)?;
        self.mac(signed)
            .verify_slice(&sig)
            .map_err(|_| LinkRefusal::Forged)?;
        if now > exp {
            return Err(LinkRefusal::Expired);
        }
        Ok(())
    }

    /// The signature of a link (as the database computes it).
    pub fn sign(&self, message_id: Uuid, exp: i64) -> String {
        hex::encode(
            self.mac(&format!("{message_id}.{exp}"))
                .finalize()
                .into_bytes(),
        )
    }

    /// The signature of an upload link (as the database computes it).
    pub fn sign_upload(&self, upload_id: Uuid, kind: &str, exp: i64) -> String {
        hex::encode(
            self.mac(&format!("upload.{upload_id}.{kind}.{exp}"))
                .finalize()
                .into_bytes(),
        )
    }

    /// Checks an upload link's signature (in constant time) and then its expiry.
    pub fn verify_upload(
        &self,
        upload_id: Uuid,
        kind: &str,
        exp: i64,
        sig: &str,
        now: i64,
    ) -> Result<(), LinkRefusal> {
        self.check(&format!("upload.{upload_id}.{kind}.{exp}"), exp, sig, now)
    }

    /// Checks a link's signature (in constant time) and then its expiry against `now`.
    pub fn verify(
        &self,
        message_id: Uuid,
        exp: i64,
        sig: &str,
        now: i64,
    ) -> Result<(), LinkRefusal> {
        self.check(&format!("{message_id}.{exp}"), exp, sig, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_link_verifies_for_its_kind_until_it_expires_and_is_no_viewing_link() {
        let id = Uuid::new_v4();
        let sig = key().sign_upload(id, "image", 1_000);
        assert_eq!(key().verify_upload(id, "image", 1_000, &sig, 1_000), Ok(()));
        assert_eq!(
            key().verify_upload(id, "image", 1_000, &sig, 1_001),
            Err(LinkRefusal::Expired)
        );
        assert_eq!(
            key().verify_upload(id, "document", 1_000, &sig, 0),
            Err(LinkRefusal::Forged)
        );
        assert_eq!(key().verify(id, 1_000, &sig, 0), Err(LinkRefusal::Forged));
        let viewing = key().sign(id, 1_000);
        assert_eq!(
            key().verify_upload(id, "image", 1_000, &viewing, 0),
            Err(LinkRefusal::Forged)
        );
    }

    fn key() -> LinkKey {
        LinkKey::new(Secret::new("0123456789abcdef0123456789abcdef"))
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let id = Uuid::new_v4();
        let sig = key().sign(id, 1_000);
        assert_eq!(key().verify(id, 1_000, &sig, 999), Ok(()));
        assert_eq!(key().verify(id, 1_000, &sig, 1_000), Ok(()));
        assert_eq!(
            key().verify(id, 1_000, &sig, 1_001),
            Err(LinkRefusal::Expired)
        );
    }

    #[test]
    fn another_message_another_expiry_another_key_or_a_bad_signature_is_forged() {
        let id = Uuid::new_v4();
        let sig = key().sign(id, 1_000);
        assert_eq!(
            key().verify(Uuid::new_v4(), 1_000, &sig, 0),
            Err(LinkRefusal::Forged)
        );
        assert_eq!(key().verify(id, 2_000, &sig, 0), Err(LinkRefusal::Forged));
        let other = LinkKey::new(Secret::new("another key of at least 32 characters"));
        assert_eq!(other.verify(id, 1_000, &sig, 0), Err(LinkRefusal::Forged));
        for bad in ["", "zz", &sig[..10]] {
            assert_eq!(
                key().verify(id, 1_000, bad, 0),
                Err(LinkRefusal::Forged),
                "{bad}"
            );
        }
    }
}
