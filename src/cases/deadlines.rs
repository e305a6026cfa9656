//! Legal deadline clocks (办案期限): when each runs out, pausing where the law allows, in
//! calendar or working days, and which cases are overdue or due soon.
//!
//! Counting follows the usual rules of Chinese procedure law: the day the period starts is not
//! counted (期间开始的日不计算在内); a period ends at the end of its last day; in calendar-day
//! mode a last day that is not a working day moves to the next working day. Working days are
//! Monday to Friday minus the configured holidays, plus the configured make-up working days
//! (调休). A pause from day P to day R excludes days P+1..=R, mirroring the start-day rule at
//! resumption. All instants are judged by their local (Asia/Shanghai) date.
//!
//! Default periods (check against the local rules before relying on them): pre-filing check 15
//! working days; decision 90 days from filing; hearing request 5 working days from the
//! pre-decision notice (行政处罚法 art. 85 reads "five days" as working days); payment 15 days
//! from service; the demand period 10 working days (行政强制法 art. 69).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::model::Case;
use crate::model::local_offset;

/// The legal clocks a case can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// 核查: from intake to the filing decision.
    PreFilingCheck,
    /// 办案期限: from filing to the decision; paused during a hearing.
    Decision,
    /// The party's window to request a hearing after the pre-decision notice.
    HearingRequest,
    /// The party's window to pay after service of the decision.
    Payment,
    /// The party's window after a written demand (催告) before court enforcement.
    DemandPeriod,
}

impl ClockKind {
    /// Every clock kind.
    pub const ALL: [ClockKind; 5] = [
        ClockKind::PreFilingCheck,
        ClockKind::Decision,
        ClockKind::HearingRequest,
        ClockKind::Payment,
        ClockKind::DemandPeriod,
    ];

    /// Stable name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::PreFilingCheck => "pre_filing_check",
            ClockKind::Decision => "decision",
            ClockKind::HearingRequest => "hearing_request",
            ClockKind::Payment => "payment",
            ClockKind::DemandPeriod => "demand_period",
        }
    }

    /// Chinese label for the console.
    pub fn label_zh(self) -> &'static str {
        match self {
            ClockKind::PreFilingCheck => "立案核查期限",
            ClockKind::Decision => "作出处罚决定期限",
            ClockKind::HearingRequest => "听证申请期限",
            ClockKind::Payment => "罚款缴纳期限",
            ClockKind::DemandPeriod => "催告履行期限",
        }
    }

    /// Who must act before the clock runs out: an agency clock running out means the bureau is
    /// late; a party clock running out means the party's window has closed.
    pub fn obliged(self) -> Obliged {
        match self {
            ClockKind::PreFilingCheck | ClockKind::Decision => Obliged::Agency,
            ClockKind::HearingRequest | ClockKind::Payment | ClockKind::DemandPeriod => {
                Obliged::Party
            }
        }
    }
}

/// Who a clock binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Obliged {
    /// The bureau must act in time.
    Agency,
    /// The party must act in time.
    Party,
}

/// How days are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarKind {
    /// Every day counts (自然日).
    Calendar,
    /// Only working days count (工作日).
    Working,
}

/// How long one clock runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockRule {
    /// Length of the period.
    pub days: u32,
    /// How its days are counted.
    pub calendar: CalendarKind,
}

/// Deadline settings: periods, calendars, holidays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeadlineSettings {
    /// Period and calendar of each clock; clocks missing here use the defaults.
    pub rules: BTreeMap<ClockKind, ClockRule>,
    /// Public holidays (法定节假日), local dates; not working days even on weekdays.
    pub holidays: BTreeSet<NaiveDate>,
    /// Make-up working days (调休上班), local dates; working days even on weekends.
    pub makeup_workdays: BTreeSet<NaiveDate>,
    /// A running clock with at most this many calendar days left is "due soon".
    pub due_soon_days: u32,
    /// In calendar-day mode, move a last day that is not a working day to the next working
    /// day (as the Civil Procedure Law does for periods ending on a holiday).
    pub roll_over_non_working_end: bool,
}

impl Default for DeadlineSettings {
    fn default() -> Self {
        DeadlineSettings {
            rules: ClockKind::ALL
                .into_iter()
                .map(|k| (k, default_rule(k)))
                .collect(),
            holidays: BTreeSet::new(),
            makeup_workdays: BTreeSet::new(),
            due_soon_days: 3,
            roll_over_non_working_end: true,
        }
    }
}

/// The default period of a clock (see the module docs).
pub fn default_rule(kind: ClockKind) -> ClockRule {
    let (days, calendar) = match kind {
        ClockKind::PreFilingCheck => (15, CalendarKind::Working),
        ClockKind::Decision => (90, CalendarKind::Calendar),
        ClockKind::HearingRequest => (5, CalendarKind::Working),
        ClockKind::Payment => (15, CalendarKind::Calendar),
        ClockKind::DemandPeriod => (10, CalendarKind::Working),
    };
    ClockRule { days, calendar }
}

impl DeadlineSettings {
    /// The rule for `kind`, falling back to the default.
    pub fn rule(&self, kind: ClockKind) -> ClockRule {
        self.rules
            .get(&kind)
            .copied()
            .unwrap_or_else(|| default_rule(kind))
    }

    /// Whether local date `day` is a working day.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.makeup_workdays.contains(&day) {
            return true;
        }
        if self.holidays.contains(&day) {
            return false;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
    }
}

/// The local (Asia/Shanghai) date of an instant.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&local_offset()).date_naive()
}

/// A stretch during which a clock does not run (e.g. the decision clock during a hearing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// When the pause began.
    pub from: DateTime<Utc>,
    /// When the clock resumed; `None` while still paused.
    pub until: Option<DateTime<Utc>>,
    /// Why (e.g. `hearing`), for the record.
    pub reason: String,
}

/// One legal clock on a case. It keeps the period and calendar it started with, so a later
/// change of settings does not move deadlines already running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Which clock.
    pub kind: ClockKind,
    /// The event that started it.
    pub started_at: DateTime<Utc>,
    /// Length of the period in days.
    pub days: u32,
    /// How days are counted.
    pub calendar: CalendarKind,
    /// Approved extensions, in days (e.g. +30 days on the decision clock with head approval).
    pub extended_days: u32,
    /// Pauses, oldest first.
    pub pauses: Vec<Pause>,
    /// When what the clock waited for happened; `None` while running.
    pub stopped_at: Option<DateTime<Utc>>,
}

/// The most days any clock can reach, so a misconfigured holiday list cannot loop forever.
const MAX_COUNTED_SPAN_DAYS: u64 = 366 * 20;

impl Clock {
    /// Starts a clock of `kind` at `at` with the configured period.
    pub fn start(kind: ClockKind, at: DateTime<Utc>, settings: &DeadlineSettings) -> Clock {
        let rule = settings.rule(kind);
        Clock {
            kind,
            started_at: at,
            days: rule.days,
            calendar: rule.calendar,
            extended_days: 0,
            pauses: Vec::new(),
            stopped_at: None,
        }
    }

    /// Whether the clock is stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped_at.is_some()
    }

    /// Whether the clock is paused now (an open pause).
    pub fn is_paused(&self) -> bool {
        self.pauses.iter().any(|p| p.until.is_none())
    }

    /// Pauses a running clock; does nothing if it is stopped or already paused.
    pub fn pause(&mut self, at: DateTime<Utc>, reason: &str) {
        if self.is_stopped() || self.is_paused() {
            return;
        }
        self.pauses.push(Pause {
            from: at,
            until: None,
            reason: reason.to_string(),
        });
    }

    /// Resumes a paused clock; does nothing if it is not paused.
    pub fn resume(&mut self, at: DateTime<Utc>) {
        if let Some(open) = self.pauses.iter_mut().find(|p| p.until.is_none()) {
            open.until = Some(at.max(open.from));
        }
    }

    /// Stops the clock: what it waited for happened at `at`. An open pause ends there too.
    pub fn stop(&mut self, at: DateTime<Utc>) {
        if self.is_stopped() {
            return;
        }
        self.resume(at);
        self.stopped_at = Some(at);
    }

    /// Whether local date `day` is excluded by a pause. `None` when an open pause covers it.
    fn paused_on(&self, day: NaiveDate) -> bool {
        self.pauses.iter().any(|p| {
            let from = local_date(p.from);
            match p.until {
                Some(until) => day > from && day <= local_date(until),
                None => day > from,
            }
        })
    }

    /// The last local day of the period, or `None` while paused (the end is not known until
    /// the clock resumes).
    pub fn due_on(&self, settings: &DeadlineSettings) -> Option<NaiveDate> {
        if self.is_paused() {
            return None;
        }
        let needed = u64::from(self.days) + u64::from(self.extended_days);
        let start = local_date(self.started_at);
        let mut counted = 0u64;
        let mut day = start;
        let mut step = 0u64;
        while counted < needed {
            step += 1;
            if step > MAX_COUNTED_SPAN_DAYS {
                return None;
            }
            day = day.checked_add_days(Days::new(1))?;
            let counts = match self.calendar {
                CalendarKind::Calendar => true,
                CalendarKind::Working => settings.is_working_day(day),
            };
            if counts && !self.paused_on(day) {
                counted += 1;
            }
        }
        if self.calendar == CalendarKind::Calendar && settings.roll_over_non_working_end {
            let mut guard = 0;
            while !settings.is_working_day(day) && guard < 60 {
                day = day.checked_add_days(Days::new(1))?;
                guard += 1;
            }
        }
        Some(day)
    }

    /// Where the clock stands at `now`.
    pub fn status(&self, settings: &DeadlineSettings, now: DateTime<Utc>) -> ClockStatus {
        let due_on = self.due_on(settings);
        let today = local_date(now);
        let days_left = due_on.map(|d| (d - today).num_days());
        let state = match (self.stopped_at, due_on) {
            (Some(stopped), Some(due)) if local_date(stopped) > due => ClockState::MetLate,
            (Some(_), _) => ClockState::Met,
            (None, None) => ClockState::Paused,
            (None, Some(due)) if today > due => ClockState::Overdue,
            (None, Some(_)) => match days_left {
                Some(left) if left <= i64::from(settings.due_soon_days) => ClockState::DueSoon,
                _ => ClockState::Running,
            },
        };
        ClockStatus {
            kind: self.kind,
            due_on,
            days_left,
            state,
        }
    }
}

/// Where a clock stands at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Running with more than the due-soon margin left.
    Running,
    /// Running, due within the due-soon margin (or today).
    DueSoon,
    /// Running past its last day.
    Overdue,
    /// Paused; the end is not known until it resumes.
    Paused,
    /// Stopped on time.
    Met,
    /// Stopped after its last day.
    MetLate,
}

/// A clock's state for the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockStatus {
    /// Which clock.
    pub kind: ClockKind,
    /// Last local day of the period (`None` while paused).
    pub due_on: Option<NaiveDate>,
    /// Calendar days from today to the last day (negative once overdue).
    pub days_left: Option<i64>,
    /// Running, due soon, overdue, paused or met.
    pub state: ClockState,
}

/// The newest clock of `kind` on a case.
pub fn clock(case: &Case, kind: ClockKind) -> Option<&Clock> {
    case.clocks.iter().rev().find(|c| c.kind == kind)
}

/// The newest clock of `kind` on a case, mutably.
pub fn clock_mut(case: &mut Case, kind: ClockKind) -> Option<&mut Clock> {
    case.clocks.iter_mut().rev().find(|c| c.kind == kind)
}

/// Starts a clock of `kind` on the case at `at`, stopping any earlier one of the same kind.
pub fn start_clock(case: &mut Case, kind: ClockKind, at: DateTime<Utc>, s: &DeadlineSettings) {
    if let Some(old) = clock_mut(case, kind) {
        old.stop(at);
    }
    case.clocks.push(Clock::start(kind, at, s));
}

/// Stops the running clock of `kind`, if any.
pub fn stop_clock(case: &mut Case, kind: ClockKind, at: DateTime<Utc>) {
    if let Some(c) = clock_mut(case, kind) {
        c.stop(at);
    }
}

/// The last local day of the earliest running, unpaused clock of an active case: the store
/// keeps it beside the case so overdue and due-soon cases are found without reading them all.
/// `None` for finished cases and when no clock runs (or all running ones are paused).
pub fn next_due_on(case: &Case, settings: &DeadlineSettings) -> Option<NaiveDate> {
    if !case.status.is_active() {
        return None;
    }
    case.clocks
        .iter()
        .filter(|c| !c.is_stopped())
        .filter_map(|c| c.due_on(settings))
        .min()
}

/// Whether the newest clock of `kind` has run out by `now` (stopped late counts too).
pub fn has_run_out(case: &Case, kind: ClockKind, s: &DeadlineSettings, now: DateTime<Utc>) -> bool {
    clock(case, kind).is_some_and(|c| {
        matches!(
            c.status(s, now).state,
            ClockState::Overdue | ClockState::MetLate
        )
    })
}

/// A running clock that is due soon or overdue, for the overdue and due-soon lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineAlert {
    /// Case id.
    pub case_id: String,
    /// Printed case number.
    pub case_number: String,
    /// The clock.
    pub clock: ClockKind,
    /// Who must act.
    pub obliged: Obliged,
    /// Last day.
    pub due_on: NaiveDate,
    /// Calendar days left (negative once overdue).
    pub days_left: i64,
    /// Due soon or overdue.
    pub state: ClockState,
}

/// Every running clock of an active case that is due soon or overdue at `now`, most urgent
/// first.
pub fn deadline_alerts(
    cases: &[Case],
    settings: &DeadlineSettings,
    now: DateTime<Utc>,
) -> Vec<DeadlineAlert> {
    let mut alerts: Vec<DeadlineAlert> = cases
        .iter()
        .filter(|case| case.status.is_active())
        .flat_map(|case| {
            case.clocks.iter().filter_map(move |c| {
                let status = c.status(settings, now);
                match (status.state, status.due_on, status.days_left) {
                    (ClockState::DueSoon | ClockState::Overdue, Some(due_on), Some(days_left)) => {
                        Some(DeadlineAlert {
                            case_id: case.id.clone(),
                            case_number: case.number.clone(),
                            clock: c.kind,
                            obliged: c.kind.obliged(),
                            due_on,
                            days_left,
                            state: status.state,
                        })
                    }
                    _ => None,
                }
            })
        })
        .collect();
    alerts.sort_by(|a, b| (a.due_on, &a.case_id, a.clock).cmp(&(b.due_on, &b.case_id, b.clock)));
    alerts
}

/// Late-payment surcharge (加处罚款): 3 % of the fine per day after the payment period,
/// capped at the fine itself.
pub fn late_surcharge_fen(fine_fen: i64, days_late: i64) -> i64 {
    if fine_fen <= 0 || days_late <= 0 {
        return 0;
    }
    let per_day = fine_fen.saturating_mul(3) / 100;
    per_day.saturating_mul(days_late).min(fine_fen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local_noon(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        // 12:00 local = 04:00 UTC.
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|day| day.and_hms_opt(4, 0, 0))
            .map(|t| t.and_utc())
            .expect("valid date")
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn calendar_days_exclude_the_start_day() {
        let s = DeadlineSettings::default();
        // Payment: 15 calendar days from Monday 2026-03-02 -> Tuesday 2026-03-17.
        let c = Clock::start(ClockKind::Payment, local_noon(2026, 3, 2), &s);
        assert_eq!(c.due_on(&s), Some(date(2026, 3, 17)));
    }

    #[test]
    fn local_date_uses_beijing_time() {
        // 17:00 UTC on the 1st is 01:00 on the 2nd in Liuzhou.
        let t: DateTime<Utc> = "2026-03-01T17:00:00Z".parse().expect("time");
        assert_eq!(local_date(t), date(2026, 3, 2));
    }

    #[test]
    fn calendar_end_on_weekend_rolls_to_monday() {
        let s = DeadlineSettings::default();
        // 15 days from Friday 2026-03-06 is Saturday 2026-03-21 -> Monday 2026-03-23.
        let c = Clock::start(ClockKind::Payment, local_noon(2026, 3, 6), &s);
        assert_eq!(c.due_on(&s), Some(date(2026, 3, 23)));
        let no_roll = DeadlineSettings {
            roll_over_non_working_end: false,
            ..DeadlineSettings::default()
        };
        assert_eq!(c.due_on(&no_roll), Some(date(2026, 3, 21)));
    }

    #[test]
    fn working_days_skip_weekends_holidays_and_honour_makeup_days() {
        let mut s = DeadlineSettings::default();
        // Hearing request, 5 working days from Thursday 2026-04-30: Fri 1, Mon 4 .. Thu 7.
        let c = Clock::start(ClockKind::HearingRequest, local_noon(2026, 4, 30), &s);
        assert_eq!(c.due_on(&s), Some(date(2026, 5, 7)));
        // Labour Day holidays 1-5 May, with Saturday 9 May a make-up working day:
        // counted days are Wed 6, Thu 7, Fri 8, Sat 9, Mon 11.
        for d in 1..=5 {
            s.holidays.insert(date(2026, 5, d));
        }
        s.makeup_workdays.insert(date(2026, 5, 9));
        assert_eq!(c.due_on(&s), Some(date(2026, 5, 11)));
    }

    #[test]
    fn pause_freezes_and_resume_extends() {
        let s = DeadlineSettings::default();
        let mut c = Clock::start(ClockKind::Decision, local_noon(2026, 1, 5), &s);
        assert_eq!(c.due_on(&s), Some(date(2026, 4, 6))); // 90 days -> Sun 5 Apr -> Mon 6 Apr
        c.pause(local_noon(2026, 2, 1), "hearing");
        assert_eq!(c.due_on(&s), None);
        assert_eq!(
            c.status(&s, local_noon(2026, 5, 1)).state,
            ClockState::Paused
        );
        // Resumed 10 days later: days 2..=11 Feb do not count, so the end moves 10 days.
        c.resume(local_noon(2026, 2, 11));
        // 5 Apr + 10 = 15 Apr (a Wednesday).
        assert_eq!(c.due_on(&s), Some(date(2026, 4, 15)));
    }

    #[test]
    fn states_move_from_running_to_due_soon_to_overdue_to_met() {
        let s = DeadlineSettings::default();
        let mut c = Clock::start(ClockKind::Payment, local_noon(2026, 3, 2), &s);
        // Due 17 March.
        assert_eq!(
            c.status(&s, local_noon(2026, 3, 10)).state,
            ClockState::Running
        );
        let soon = c.status(&s, local_noon(2026, 3, 14));
        assert_eq!(soon.state, ClockState::DueSoon);
        assert_eq!(soon.days_left, Some(3));
        assert_eq!(
            c.status(&s, local_noon(2026, 3, 17)).state,
            ClockState::DueSoon
        );
        let late = c.status(&s, local_noon(2026, 3, 18));
        assert_eq!(late.state, ClockState::Overdue);
        assert_eq!(late.days_left, Some(-1));
        c.stop(local_noon(2026, 3, 19));
        assert_eq!(
            c.status(&s, local_noon(2026, 3, 20)).state,
            ClockState::MetLate
        );
    }

    #[test]
    fn extension_moves_the_end() {
        let s = DeadlineSettings::default();
        let mut c = Clock::start(ClockKind::Payment, local_noon(2026, 3, 2), &s);
        c.extended_days = 3;
        assert_eq!(c.due_on(&s), Some(date(2026, 3, 20)));
    }

    #[test]
    fn surcharge_is_three_percent_a_day_capped_at_the_fine() {
        assert_eq!(late_surcharge_fen(1_000_000, 0), 0);
        assert_eq!(late_surcharge_fen(1_000_000, 2), 60_000);
        assert_eq!(late_surcharge_fen(1_000_000, 40), 1_000_000);
        assert_eq!(late_surcharge_fen(0, 10), 0);
    }
}
