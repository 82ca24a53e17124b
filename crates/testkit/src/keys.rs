//! The stack's JWT secret and the tokens minted with it, shaped like Supabase's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The local stack's JWT secret (a development value, like `supabase start`'s).
pub const JWT_SECRET: &str = "chatcentralize-local-jwt-secret-with-at-least-32-characters";

/// Issued-at of the project keys: fixed so that `stack env` prints the same keys each time.
const KEYS_IAT: i64 = 1_764_000_000;
/// Expiry of the project keys (as Supabase's, ten years).
const KEYS_EXP: i64 = KEYS_IAT + 10 * 365 * 24 * 3600;

/// The API roles a token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Anon,
    Authenticated,
    ServiceRole,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anon => "anon",
            Role::Authenticated => "authenticated",
            Role::ServiceRole => "service_role",
        }
    }
}

/// Mints HS256 tokens with one secret.
#[derive(Debug, Clone)]
pub struct Keys {
    secret: String,
}

impl Default for Keys {
    fn default() -> Self {
        Self::new(JWT_SECRET)
    }
}

impl Keys {
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
        }
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The project's anon key (`SUPABASE_ANON_KEY`).
    pub fn anon_key(&self) -> String {
        self.project_key(Role::Anon)
    }

    /// The project's service-role key (`SUPABASE_SERVICE_ROLE_KEY`).
    pub fn service_role_key(&self) -> String {
        self.project_key(Role::ServiceRole)
    }

    fn project_key(&self, role: Role) -> String {
        self.sign(&json!({
            "iss": "supabase-demo",
            "ref": "local",
            "role": role.as_str(),
            "iat": KEYS_IAT,
            "exp": KEYS_EXP,
        }))
    }

    /// A signed-in user's access token, with the claims Supabase Auth puts in it.
    pub fn user_token(&self, user_id: uuid::Uuid) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(KEYS_IAT);
        self.sign(&json!({
            "iss": "http://127.0.0.1:54321/auth/v1",
            "aud": "authenticated",
            "sub": user_id.to_string(),
            "role": "authenticated",
            "aal": "aal1",
            "session_id": uuid::Uuid::new_v4().to_string(),
            "is_anonymous": false,
            "iat": now,
            "exp": now + 3600,
        }))
    }

    /// Signs arbitrary claims (HS256).
    pub fn sign(&self, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{payload}");
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_keys_are_stable_and_carry_their_role() {
        let keys = Keys::default();
        assert_eq!(keys.anon_key(), keys.anon_key());
        let payload = keys
            .service_role_key()
            .split('.')
            .nth(1)
            .unwrap()
            .to_owned();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["role"], "service_role");
    }

    #[test]
    fn a_token_signed_with_another_secret_differs() {
        let a = Keys::new("a".repeat(32)).anon_key();
        let b = Keys::new("b".repeat(32)).anon_key();
        assert_ne!(a.rsplit('.').next(), b.rsplit('.').next());
    }
}
