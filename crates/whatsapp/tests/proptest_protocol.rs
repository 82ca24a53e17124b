//! Properties of the rest of the protocol: signatures, the retry policy, error
//! classification, phone masking, unicode escaping.

use std::time::Duration;

use proptest::prelude::*;
use whatsapp::{
    classify, escape_non_ascii, mask_phone, sign, verify_signature, ErrorClass, Jitter,
    RetryPolicy, SignatureError,
};

fn arb_policy() -> impl Strategy<Value = RetryPolicy> {
    (
        0u64..10_000,
        0u64..10_000_000,
        0u64..100_000_000,
        prop_oneof![Just(Jitter::Full), Just(Jitter::Equal)],
    )
        .prop_map(|(base, max, age, jitter)| RetryPolicy {
            base_delay: Duration::from_millis(base),
            max_delay: Duration::from_millis(max),
            max_age: Duration::from_millis(age),
            jitter,
        })
}

fn unit_interval() -> impl Strategy<Value = f64> {
    (0u64..1_000_000).prop_map(|n| n as f64 / 1_000_000.0)
}

proptest! {
    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not(
        secret in prop::collection::vec(any::<u8>(), 1..64),
        body in prop::collection::vec(any::<u8>(), 0..512),
        flip in any::<prop::sample::Index>(),
    ) {
        let header = sign(&secret, &body);
        prop_assert_eq!(verify_signature(&secret, &body, Some(&header)), Ok(()));
        if !body.is_empty() {
            let mut tampered = body.clone();
            let i = flip.index(tampered.len());
            tampered[i] ^= 0x01;
            prop_assert_eq!(
                verify_signature(&secret, &tampered, Some(&header)),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn a_text_signed_over_its_escaped_form_verifies(secret in "[a-z0-9]{1,32}", text in ".{0,64}") {
        let body = serde_json::json!({"text": {"body": text}}).to_string();
        let header = sign(secret.as_bytes(), escape_non_ascii(&body).as_bytes());
        prop_assert_eq!(verify_signature(secret.as_bytes(), body.as_bytes(), Some(&header)), Ok(()));
    }

    #[test]
    fn verification_never_panics(
        secret in prop::collection::vec(any::<u8>(), 0..64),
        body in prop::collection::vec(any::<u8>(), 0..256),
        header in prop::option::of(".{0,80}"),
    ) {
        let _ = verify_signature(&secret, &body, header.as_deref());
    }

    #[test]
    fn escaping_gives_ascii_that_decodes_to_the_same_string(text in ".{0,64}") {
        let escaped = escape_non_ascii(&text);
        prop_assert!(escaped.is_ascii());
        let json = serde_json::to_string(&text).expect("serializes");
        let decoded: String = serde_json::from_str(&escape_non_ascii(&json)).expect("still JSON");
        prop_assert_eq!(decoded, text);
    }

    #[test]
    fn delays_are_capped_and_within_the_jitter_band(
        policy in arb_policy(),
        attempt in 0u32..200,
        jitter in unit_interval(),
    ) {
        let ceiling = policy.ceiling(attempt);
        let delay = policy.next_delay(attempt, None, jitter);
        prop_assert!(ceiling <= policy.max_delay);
        prop_assert!(delay <= ceiling);
        if policy.jitter == Jitter::Equal {
            prop_assert!(delay >= ceiling / 2, "{delay:?} < {ceiling:?} / 2");
        }
    }

    #[test]
    fn delays_never_shrink_as_attempts_grow(
        policy in arb_policy(),
        attempt in 0u32..200,
        jitter in unit_interval(),
    ) {
        prop_assert!(policy.ceiling(attempt) <= policy.ceiling(attempt + 1));
        prop_assert!(
            policy.next_delay(attempt, None, jitter) <= policy.next_delay(attempt + 1, None, jitter)
        );
    }

    #[test]
    fn retry_after_is_honoured_within_max_age(
        policy in arb_policy(),
        attempt in 0u32..64,
        jitter in unit_interval(),
        retry_after_ms in 0u64..200_000_000,
    ) {
        let ra = Duration::from_millis(retry_after_ms);
        let delay = policy.next_delay(attempt, Some(ra), jitter);
        prop_assert!(delay >= ra.min(policy.max_age));
        prop_assert!(delay >= policy.next_delay(attempt, None, jitter));
        prop_assert!(delay <= policy.max_delay.max(policy.max_age));
    }

    #[test]
    fn any_jitter_value_is_safe(policy in arb_policy(), attempt in any::<u32>(), jitter in any::<f64>()) {
        let delay = policy.next_delay(attempt, None, jitter);
        prop_assert!(delay <= policy.max_delay);
    }

    #[test]
    fn giving_up_is_monotone_in_age(policy in arb_policy(), a in any::<u64>(), b in any::<u64>()) {
        let (young, old) = (Duration::from_millis(a.min(b)), Duration::from_millis(a.max(b)));
        prop_assert!(!policy.should_give_up(young) || policy.should_give_up(old));
    }

    #[test]
    fn classify_is_total(code in prop::option::of(any::<i64>()), http in prop::option::of(any::<u16>())) {
        let class = classify(code, http);
        prop_assert!(matches!(
            class,
            ErrorClass::Retryable
                | ErrorClass::WindowClosed
                | ErrorClass::OptedOut
                | ErrorClass::PauseSending
                | ErrorClass::Permanent
        ));
    }

    #[test]
    fn server_errors_without_a_known_code_are_retryable(http in 500u16..600) {
        prop_assert_eq!(classify(None, Some(http)), ErrorClass::Retryable);
    }

    #[test]
    fn masking_keeps_length_and_hides_the_middle(phone in "\\+?[0-9]{0,20}") {
        let masked = mask_phone(&phone);
        let digits = phone.trim_start_matches('+');
        let n = digits.chars().count();
        prop_assert_eq!(masked.trim_start_matches('+').chars().count(), n.max(1));
        if n >= 3 {
            prop_assert!(masked.ends_with(&digits[n - 2..]));
            prop_assert!(masked.matches('*').count() >= (n - 2).min(4));
            prop_assert_ne!(masked.as_str(), phone.as_str());
        }
    }

    #[test]
    fn masking_never_panics(id in ".{0,40}") {
        let _ = mask_phone(&id);
    }
}
