//! The service's clock. Everything that acts on the passing of days (the daily webhook events)
//! reads it here, so that a test can move it; in service it is the system's.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// A clock that only moves when told to (tests).
    Manual(Arc<RwLock<DateTime<Utc>>>),
}

impl Clock {
    /// A clock standing at `at`.
    pub fn manual(at: DateTime<Utc>) -> Self {
        Clock::Manual(Arc::new(RwLock::new(at)))
    }

    /// Moves a manual clock to `at` (a system clock cannot be moved).
    pub fn set(&self, at: DateTime<Utc>) {
        if let Clock::Manual(now) = self {
            *now.write().unwrap_or_else(|e| e.into_inner()) = at;
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(now) => *now.read().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Today in Vietnam (UTC+7, no daylight saving).
    pub fn today_in_vietnam(&self) -> NaiveDate {
        (self.now() + TimeDelta::hours(7)).date_naive()
    }
}
