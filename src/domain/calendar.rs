//! Working days: Monday to Friday, except the public holidays of the holiday table. Posting
//! deadlines are counted in working days after the day a change takes effect.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// Today in Vietnam (UTC+7, no daylight saving): the day an office means by "today", which
/// differs from the UTC date from midnight to 7 a.m.
pub fn today_in_vietnam() -> NaiveDate {
    (chrono::Utc::now() + chrono::TimeDelta::hours(7)).date_naive()
}

/// The dates the service accepts: anything outside is a typing error, not an administrative date.
pub fn date_in_range(date: NaiveDate) -> bool {
    (NaiveDate::from_ymd_opt(1900, 1, 1)..=NaiveDate::from_ymd_opt(2199, 12, 31))
        .contains(&Some(date))
}

#[derive(Debug, Clone, Default)]
pub struct Calendar {
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    pub fn new(holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self {
            holidays: holidays.into_iter().collect(),
        }
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }

    /// The `n`-th working day after `start` (`start` itself never counts); `start` when `n` is 0.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut day = start;
        let mut counted = 0;
        while counted < n {
            match day.checked_add_days(Days::new(1)) {
                Some(next) => day = next,
                None => return day,
            }
            if self.is_working_day(day) {
                counted += 1;
            }
        }
        day
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn weekends_do_not_count() {
        let cal = Calendar::default();
        // Monday + 5 working days = next Monday; Friday + 1 = Monday.
        assert_eq!(cal.add_working_days(d("2026-03-02"), 5), d("2026-03-09"));
        assert_eq!(cal.add_working_days(d("2026-03-06"), 1), d("2026-03-09"));
        // A change taking effect on a Saturday: the count starts on Monday.
        assert_eq!(cal.add_working_days(d("2026-03-07"), 1), d("2026-03-09"));
        assert_eq!(cal.add_working_days(d("2026-03-07"), 0), d("2026-03-07"));
    }

    #[test]
    fn holidays_do_not_count() {
        // 30 April and 1 May 2026 fall on Thursday and Friday.
        let cal = Calendar::new([d("2026-04-30"), d("2026-05-01")]);
        assert!(!cal.is_working_day(d("2026-04-30")));
        assert_eq!(cal.add_working_days(d("2026-04-29"), 1), d("2026-05-04"));
        assert_eq!(cal.add_working_days(d("2026-04-27"), 5), d("2026-05-06"));
    }

    proptest! {
        #[test]
        fn the_due_day_is_a_working_day_with_exactly_n_working_days_after_start(
            offset in 0u64..2000, n in 1u32..40, holiday_offsets in proptest::collection::vec(0u64..2100, 0..30)
        ) {
            let base = d("2025-01-01");
            let start = base.checked_add_days(Days::new(offset)).unwrap_or(base);
            let cal = Calendar::new(holiday_offsets.iter().filter_map(|o| base.checked_add_days(Days::new(*o))));
            let due = cal.add_working_days(start, n);
            prop_assert!(cal.is_working_day(due));
            let between = start.iter_days().skip(1).take_while(|day| *day <= due).filter(|day| cal.is_working_day(*day)).count();
            prop_assert_eq!(between, n as usize);
        }
    }
}
