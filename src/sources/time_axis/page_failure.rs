//! One policy for a page that fails after earlier pages of the same window succeeded.
//!
//! The pages already read are kept: the batch hands them over with the position just past them
//! (the window's watermark does not move, the resume token of the failed page is kept), so the
//! driver commits nothing past the last fully read page. The failure itself is held and returned
//! by the next poll *before any request*, so the driver's loop backs off exactly as for a failure
//! of the first page, instead of hammering a failing or throttling API. After the backoff the
//! window resumes from the kept token if it is still valid, or from its start otherwise (the seen
//! set drops what was already handed over).

use crate::sources::SourceError;

/// A page failure waiting to be reported.
#[derive(Debug, Default)]
pub struct HeldFailure(Option<SourceError>);

impl HeldFailure {
    /// Keeps `error` for the next poll (a later failure replaces an earlier one).
    pub fn hold(&mut self, error: SourceError) {
        self.0 = Some(error);
    }

    /// To call first in `poll`: the held failure, if any, now reported.
    pub fn report(&mut self) -> Result<(), SourceError> {
        self.0.take().map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_failure_is_reported_once() {
        let mut held = HeldFailure::default();
        assert!(held.report().is_ok());
        held.hold(SourceError::transient("page 2 failed"));
        assert_eq!(held.report().unwrap_err().message, "page 2 failed");
        assert!(held.report().is_ok());
    }
}
