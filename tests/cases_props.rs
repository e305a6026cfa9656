//! Properties over random input: any sequence of steps by any users only ever moves a case
//! along legal edges and keeps the audit chain valid; deadline arithmetic, escaping, canonical
//! JSON, case numbers and tracking numbers never panic and keep their invariants.

mod cases_support;

use cases_support::*;

use chrono::{Days, Duration, NaiveDate};
use haulwatch::cases::audit::{canonical_json, verify};
use haulwatch::cases::citizen::normalize_tracking_number;
use haulwatch::cases::deadlines::{CalendarKind, Clock, ClockKind, DeadlineSettings};
use haulwatch::cases::documents::{amount_in_words_zh, escape_html};
use haulwatch::cases::numbering::CaseNumbering;
use haulwatch::cases::workflow::{Action, ActionKind, Transition, apply};
use proptest::prelude::*;

fn users() -> Vec<haulwatch::cases::model::User> {
    vec![
        admin(),
        dispatcher(),
        officer("o1"),
        officer("o2"),
        officer("o3"),
        company_user("co1"),
        company_user("co2"),
        auditor(),
        haulwatch::cases::model::User::system(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_steps_follow_the_state_machine(
        steps in prop::collection::vec((0usize..9, 0usize..19, 0i64..400, any::<bool>()), 1..40)
    ) {
        let users = users();
        let mut r = Runner::new();
        r.prepare();
        for (who, kind, hours, waive) in steps {
            let user = &users[who];
            let kind = ActionKind::ALL[kind];
            let action = match kind {
                ActionKind::SubmitForLegalReview => Action::SubmitForLegalReview {
                    party_waived_rights: waive,
                },
                other => sample_action(other),
            };
            r.advance(Duration::hours(hours));
            let before = r.case.clone();
            let t = Transition { action, note: "随机".into(), attachments: vec![] };
            match apply(&before, user, t, &r.settings, r.now) {
                Ok(applied) => {
                    prop_assert!(kind.from_states().contains(&before.status));
                    prop_assert_eq!(applied.case.status, kind.to_state());
                    prop_assert_eq!(applied.case.revision, before.revision + 1);
                    prop_assert_eq!(applied.audit.len(), 1);
                    r.absorb(applied);
                }
                Err(_) => prop_assert_eq!(&r.case, &before),
            }
        }
        prop_assert_eq!(verify(&r.events), Ok(()));
        // The recorded history is a walk along legal edges.
        for change in &r.case.history {
            let legal = ActionKind::ALL
                .iter()
                .any(|k| k.from_states().contains(&change.from) && k.to_state() == change.to);
            prop_assert!(legal, "{:?} -> {:?}", change.from, change.to);
        }
    }

    #[test]
    fn deadlines_never_panic_and_count_the_right_days(
        start_day in 0u64..4000,
        days in 0u32..200,
        working in any::<bool>(),
        holidays in prop::collection::vec(0u64..400, 0..30),
        pause in prop::option::of((0u64..100, 0u64..60)),
    ) {
        let base = NaiveDate::from_ymd_opt(2020, 1, 1).expect("date");
        let start = base.checked_add_days(Days::new(start_day)).expect("date");
        let mut settings = DeadlineSettings { roll_over_non_working_end: false, ..DeadlineSettings::default() };
        for h in holidays {
            if let Some(d) = start.checked_add_days(Days::new(h)) {
                settings.holidays.insert(d);
            }
        }
        let at = start.and_hms_opt(4, 0, 0).expect("time").and_utc();
        let mut clock = Clock::start(ClockKind::Decision, at, &settings);
        clock.days = days;
        clock.calendar = if working { CalendarKind::Working } else { CalendarKind::Calendar };
        let mut paused_days = 0;
        if let Some((from, len)) = pause {
            clock.pause(at + Duration::days(from as i64), "test");
            prop_assert_eq!(clock.due_on(&settings), None);
            clock.resume(at + Duration::days((from + len) as i64));
            paused_days = len;
        }
        let due = clock.due_on(&settings).expect("not paused");
        prop_assert!(due >= start);
        if !working && pause.is_none() {
            prop_assert_eq!((due - start).num_days(), i64::from(days));
        }
        if working && pause.is_none() {
            let counted = (1..=(due - start).num_days())
                .filter_map(|i| start.checked_add_days(Days::new(i as u64)))
                .filter(|d| settings.is_working_day(*d))
                .count();
            prop_assert_eq!(counted, days as usize);
        }
        if !working {
            // A pause of n days moves a calendar-day clock by at most n days.
            prop_assert!((due - start).num_days() <= i64::from(days) + paused_days as i64);
        }
    }

    #[test]
    fn escaping_leaves_no_markup_and_round_trips(text in ".*") {
        let escaped = escape_html(&text);
        prop_assert!(!escaped.contains(['<', '>', '"', '\'']));
        let back = escaped
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&");
        prop_assert_eq!(back, text);
    }

    #[test]
    fn canonical_json_parses_back_to_the_same_value(
        entries in prop::collection::btree_map(".{0,8}", (any::<i64>(), ".{0,8}", any::<bool>()), 0..8)
    ) {
        let value = serde_json::json!(entries
            .iter()
            .map(|(k, (n, s, b))| (k.clone(), serde_json::json!({"n": n, "s": s, "b": b, "l": [n, s]})))
            .collect::<serde_json::Map<_, _>>());
        let text = canonical_json(&value);
        let back: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        prop_assert_eq!(&back, &value);
        prop_assert_eq!(canonical_json(&back), text);
    }

    #[test]
    fn case_numbers_round_trip_and_parsing_never_panics(year in 1000i32..10000, seq in any::<u64>(), junk in ".*") {
        let n = CaseNumbering::default();
        prop_assert_eq!(n.parse(&n.format(year, seq)), Ok((year, seq)));
        let _ = n.parse(&junk);
        let _ = normalize_tracking_number(&junk);
    }

    #[test]
    fn capital_amounts_never_panic_and_end_properly(fen in any::<i64>()) {
        let words = amount_in_words_zh(fen);
        prop_assert!(words.contains('元'));
        prop_assert!(words.ends_with('整') || words.ends_with('分'));
    }
}
