//! Tokens a worker has already checked, so that an integration sending the
//! same bearer token on every request pays for its signature once.
//!
//! Checking a token costs two base64 decodings, two JSON parses and an HMAC
//! (or a public-key verification for an external issuer): about a tenth of
//! a point read's CPU. A token is a pure function of its bytes and the
//! clock, so remembering the outcome until the token expires changes no
//! answer: a tampered token is another string and misses; an expired one is
//! dropped here and refused by the full check. Revocation is not part of
//! what is remembered (the caller checks it on every request).
//!
//! One map per HTTP worker (no lock, nothing shared between threads),
//! bounded: when full, expired entries go first, then everything.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use actix_web::HttpRequest;
use uuid::Uuid;

use super::Principal;

/// Entries a worker keeps (a few hundred bytes each).
const CAPACITY: usize = 4096;

/// What a checked token established.
#[derive(Debug, Clone)]
pub struct Checked {
    pub principal: Principal,
    /// The API client whose revocation must be checked (our own tokens).
    pub local_client: Option<Uuid>,
    /// The token's `exp`, in unix seconds.
    pub expires_at: i64,
}

/// A worker's checked tokens. Cheap to clone; never leaves its thread.
#[derive(Clone, Default)]
pub struct VerifiedTokens(Rc<RefCell<HashMap<Box<str>, Checked>>>);

impl VerifiedTokens {
    /// The worker's map, when the request is served by a worker that has one.
    pub fn of(req: &HttpRequest) -> Option<&Self> {
        req.app_data::<Self>()
    }

    /// What `token` established, while it has not expired at `now`.
    pub fn get(&self, token: &str, now: i64) -> Option<Checked> {
        let entries = self.0.borrow();
        entries.get(token).filter(|checked| now < checked.expires_at).cloned()
    }

    /// Remembers a token that passed every check.
    pub fn insert(&self, token: &str, checked: Checked, now: i64) {
        let mut entries = self.0.borrow_mut();
        if entries.len() >= CAPACITY {
            entries.retain(|_, kept| now < kept.expires_at);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(token.into(), checked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::practices::PracticeId;

    fn checked(expires_at: i64) -> Checked {
        Checked {
            principal: Principal {
                practice_id: PracticeId(Uuid::nil()),
                subject: "client".to_owned(),
                actor: None,
                scopes: Vec::new(),
            },
            local_client: None,
            expires_at,
        }
    }

    #[test]
    fn a_token_is_remembered_until_it_expires() {
        let tokens = VerifiedTokens::default();
        tokens.insert("a.b.c", checked(100), 10);
        assert!(tokens.get("a.b.c", 99).is_some());
        assert!(tokens.get("a.b.c", 100).is_none(), "an expired token must take the full check");
        assert!(tokens.get("a.b.d", 50).is_none(), "another string is another token");
    }

    #[test]
    fn a_full_map_drops_expired_entries_first_then_everything() {
        let tokens = VerifiedTokens::default();
        for i in 0..CAPACITY {
            tokens.insert(&format!("t{i}"), checked(if i == 0 { 5 } else { 1000 }), 1);
        }
        tokens.insert("fresh", checked(1000), 10);
        assert!(tokens.get("t1", 10).is_some(), "live entries stay while expired ones make room");
        assert!(tokens.get("fresh", 10).is_some());
        tokens.insert("one more", checked(1000), 10);
        assert!(tokens.get("t1", 10).is_none(), "with nothing expired, the map starts over");
        assert!(tokens.get("one more", 10).is_some());
        assert_eq!(tokens.0.borrow().len(), 1);
    }
}
