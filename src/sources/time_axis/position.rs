//! One stream's place on the axis: a watermark, and while a window is read in several batches
//! the provider's resume token for the rest of it.
//!
//! Carrying the token is what lets a window of any size be committed batch by batch without
//! reading an entry twice or skipping one, across restarts too. A token only continues the exact
//! request that produced it, and CloudWatch `nextToken` and Cloud Logging `pageToken` both
//! expire after 24 hours; so the position keeps the window, a key of the request (a filter
//! pattern) and the time the token was issued. A token that no longer fits is not used: the
//! window is read again from its start and the driver's seen set drops what was handed over.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::window::Window;

/// Tokens live 24 hours at both providers; one older than this is not trusted.
pub const TOKEN_TTL_MS: i64 = 23 * 3600 * 1000;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition {
    /// Entries stamped before this (ms since the epoch, on the source's axis) have been read.
    pub watermark_ms: i64,
    /// A window read in part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<ResumePoint>,
}

/// The rest of a window whose first pages are committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    /// The window being read, `[start_ms, end_ms)`.
    pub start_ms: i64,
    pub end_ms: i64,
    pub next_token: String,
    /// What else the request carried that the token is bound to (CloudWatch: the filter
    /// pattern).
    #[serde(rename = "filter_pattern")]
    pub request: Option<String>,
    /// Wall-clock time the token was issued (ms).
    pub issued_ms: i64,
}

impl ResumePoint {
    pub fn window(&self) -> Window {
        Window {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
        }
    }

    /// The token, if it still continues `request` at `now`.
    pub fn usable_token(&self, request: Option<&str>, now: DateTime<Utc>) -> Option<&str> {
        let fresh = token_fresh(self.issued_ms, now);
        let same_request = self.request.as_deref() == request;
        (fresh && same_request).then_some(self.next_token.as_str())
    }
}

/// Whether a token issued at `issued_ms` is still inside its lifetime at `now`.
pub fn token_fresh(issued_ms: i64, now: DateTime<Utc>) -> bool {
    now.timestamp_millis().saturating_sub(issued_ms) < TOKEN_TTL_MS
}

impl StreamPosition {
    pub fn at(watermark_ms: i64) -> Self {
        StreamPosition {
            watermark_ms,
            page: None,
        }
    }

    /// The window was read to its end.
    pub fn complete(&mut self, window: Window) {
        self.watermark_ms = self.watermark_ms.max(window.end_ms);
        self.page = None;
    }

    /// The window was read up to `token` (issued at `now` for `request`); the watermark stays.
    pub fn pause(
        &mut self,
        window: Window,
        token: String,
        request: Option<&str>,
        now: DateTime<Utc>,
    ) {
        self.page = Some(ResumePoint {
            start_ms: window.start_ms,
            end_ms: window.end_ms,
            next_token: token,
            request: request.map(str::to_owned),
            issued_ms: now.timestamp_millis(),
        });
    }

    /// The oldest instant this stream may still have to read.
    pub fn behind_ms(&self) -> i64 {
        self.page
            .as_ref()
            .map_or(self.watermark_ms, |p| p.start_ms.min(self.watermark_ms))
    }

    /// Moves the stream forward to `floor_ms` if it is behind it (a half-read window is
    /// dropped: its token belongs to time that will not be read).
    pub fn advance_to(&mut self, floor_ms: i64) {
        if self.behind_ms() < floor_ms {
            self.watermark_ms = self.watermark_ms.max(floor_ms);
            self.page = None;
        }
    }

    /// The newest instant this stream has planned a read up to (a window in progress included).
    pub fn ahead_ms(&self) -> i64 {
        self.page
            .as_ref()
            .map_or(self.watermark_ms, |p| p.end_ms.max(self.watermark_ms))
    }

    /// Moves the stream back to `ceiling_ms` if it stands past it (the clock went back); a
    /// half-read window reaching past it is dropped and planned again from the watermark.
    pub fn rewind_to(&mut self, ceiling_ms: i64) {
        if self.ahead_ms() > ceiling_ms {
            self.watermark_ms = self.watermark_ms.min(ceiling_ms);
            self.page = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const T: i64 = 1_800_000_000_000;

    fn at_ms(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).unwrap()
    }

    #[test]
    fn a_token_continues_only_its_own_request_within_its_life() {
        let mut pos = StreamPosition::at(T);
        let window = Window {
            start_ms: T - 10,
            end_ms: T + 10,
        };
        pos.pause(window, "tok".into(), Some("p"), at_ms(T));
        assert_eq!(
            pos.watermark_ms, T,
            "a paused window does not move the watermark"
        );
        let page = pos.page.clone().unwrap();
        assert_eq!(page.window(), window);
        assert_eq!(page.usable_token(Some("p"), at_ms(T + 1)), Some("tok"));
        assert_eq!(page.usable_token(None, at_ms(T + 1)), None);
        assert_eq!(page.usable_token(Some("p"), at_ms(T + TOKEN_TTL_MS)), None);
        pos.complete(window);
        assert_eq!((pos.watermark_ms, pos.page), (T + 10, None));
    }

    #[test]
    fn advancing_drops_a_half_read_window_behind_the_floor() {
        let mut pos = StreamPosition::at(T);
        pos.pause(
            Window {
                start_ms: T - 5,
                end_ms: T + 5,
            },
            "t".into(),
            None,
            at_ms(T),
        );
        assert_eq!(pos.behind_ms(), T - 5);
        pos.advance_to(T - 10);
        assert!(pos.page.is_some(), "not behind: unchanged");
        pos.advance_to(T + 1);
        assert_eq!((pos.watermark_ms, pos.page), (T + 1, None));
    }
}
