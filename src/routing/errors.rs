//! What a pool does with each of Meta's error codes (META.md's table).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throughput limit, maintenance, Meta 5xx or timeout: try the next member.
    TryNextMember,
    /// Spam rate limit: cool this member down; do not resend.
    CoolDownMember,
    /// Policy block, locked account, WABA rate limit: the whole WABA leaves rotation.
    WabaOutOfRotation,
    /// The recipient cannot get this message: no retry.
    RecipientRejected,
    /// No service window: a template must be sent.
    NeedsTemplate,
    /// Anything else: stop and report.
    Other,
}

/// Classifies a Graph error by code; `None` for transport failures (timeouts, 5xx without a body).
pub fn classify(code: Option<i64>, http_status: Option<u16>) -> ErrorClass {
    match code {
        Some(130429 | 131057) => ErrorClass::TryNextMember,
        Some(131048) => ErrorClass::CoolDownMember,
        Some(368 | 131031 | 80007) => ErrorClass::WabaOutOfRotation,
        Some(131026 | 131049 | 131050 | 130497 | 131042) => ErrorClass::RecipientRejected,
        Some(131047) => ErrorClass::NeedsTemplate,
        _ if http_status.is_some_and(|s| s >= 500) => ErrorClass::TryNextMember,
        None => ErrorClass::TryNextMember,
        _ => ErrorClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_gets_the_pool_action_of_metas_table() {
        assert_eq!(classify(Some(130429), Some(400)), ErrorClass::TryNextMember);
        assert_eq!(classify(Some(131057), Some(400)), ErrorClass::TryNextMember);
        assert_eq!(classify(Some(131048), Some(400)), ErrorClass::CoolDownMember);
        for code in [368, 131031, 80007] {
            assert_eq!(classify(Some(code), Some(400)), ErrorClass::WabaOutOfRotation);
        }
        for code in [131026, 131049, 131050, 130497, 131042] {
            assert_eq!(classify(Some(code), Some(400)), ErrorClass::RecipientRejected);
        }
        assert_eq!(classify(Some(131047), Some(400)), ErrorClass::NeedsTemplate);
        assert_eq!(classify(Some(2), Some(503)), ErrorClass::TryNextMember);
        assert_eq!(classify(None, None), ErrorClass::TryNextMember);
        assert_eq!(classify(Some(100), Some(400)), ErrorClass::Other);
    }
}
