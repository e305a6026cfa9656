//! Engine configuration: every threshold of every rule, with the defaults proposed in the
//! domain notes (`shared/docs/domain.md` §1). Deserialises from a partial document; missing
//! fields take their defaults.

use serde::{Deserialize, Serialize};

use crate::engine::index::IndexConfig;

/// When a condition becomes an episode and when the episode ends.
///
/// An episode opens once the condition has held for at least `min_fixes` consecutive fixes
/// **and** at least `min_secs` seconds (GNSS time, first fix to current fix). It closes once the
/// condition has been false for at least `clear_fixes` fixes **and** `clear_secs` seconds, so a
/// single stray fix neither opens nor splits an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Debounce {
    /// Consecutive fixes the condition must hold before the episode opens.
    pub min_fixes: u32,
    /// Seconds the condition must hold before the episode opens.
    pub min_secs: u32,
    /// Consecutive fixes the condition must be false before the episode closes.
    pub clear_fixes: u32,
    /// Seconds the condition must be false before the episode closes.
    pub clear_secs: u32,
}

impl Default for Debounce {
    fn default() -> Self {
        Debounce {
            min_fixes: 1,
            min_secs: 0,
            clear_fixes: 1,
            clear_secs: 0,
        }
    }
}

impl Debounce {
    const fn new(min_fixes: u32, min_secs: u32, clear_fixes: u32, clear_secs: u32) -> Debounce {
        Debounce {
            min_fixes,
            min_secs,
            clear_fixes,
            clear_secs,
        }
    }
}

/// The whole engine configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct EngineConfig {
    /// Fence index tuning.
    pub index: IndexConfig,
    /// Fence membership hysteresis and crossing detection.
    pub membership: MembershipConfig,
    /// Ordering of positions, late data, episode memory.
    pub ordering: OrderingConfig,
    /// Motion, stop and load inference.
    pub motion: MotionConfig,
    /// What evidence an episode keeps.
    pub evidence: EvidenceConfig,
    /// `route_deviation`.
    pub route_deviation: RouteDeviationConfig,
    /// `time_window`.
    pub time_window: TimeWindowConfig,
    /// `restricted_zone`.
    pub restricted_zone: RestrictedZoneConfig,
    /// `speeding`.
    pub speeding: SpeedingConfig,
    /// `illegal_dumping`.
    pub illegal_dumping: IllegalDumpingConfig,
    /// `lid_open`.
    pub lid_open: LidOpenConfig,
    /// `no_permit`.
    pub no_permit: NoPermitConfig,
    /// `unpermitted_site`.
    pub unpermitted_site: UnpermittedSiteConfig,
    /// `overload`.
    pub overload: OverloadConfig,
    /// `offline`.
    pub offline: OfflineConfig,
    /// `gps_tamper`.
    pub gps_tamper: GpsTamperConfig,
    /// `unregistered_terminal`.
    pub unregistered_terminal: UnregisteredTerminalConfig,
    /// Emit a [`crate::engine::PositionClass`] for every judged position (the live map).
    pub emit_classifications: Option<bool>,
}

impl EngineConfig {
    /// Whether per-position classifications are emitted (default: yes).
    pub fn classifications(&self) -> bool {
        self.emit_classifications.unwrap_or(true)
    }
}

/// Fence membership: entry and exit are confirmed over fixes and seconds so GPS jitter at an
/// edge does not flap; a fence passed between two fixes still counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MembershipConfig {
    /// Consecutive fixes inside before an entry is confirmed.
    pub enter_min_fixes: u32,
    /// Seconds inside (first to current fix) before an entry is confirmed.
    pub enter_min_secs: u32,
    /// Consecutive fixes outside (beyond the exit buffer) before an exit is confirmed.
    pub exit_min_fixes: u32,
    /// Seconds outside before an exit is confirmed.
    pub exit_min_secs: u32,
    /// A fix outside a fence the vehicle is in still counts as inside while it is within this
    /// many metres of the boundary (GNSS error; JT/T 794 allows 15 m).
    pub exit_buffer_m: f64,
    /// A short, unconfirmed visit to a restricted or time-restricted zone still counts when a
    /// fix was at least this deep inside (metres): deeper than GNSS error.
    pub transit_min_depth_m: f64,
    /// Test the straight segment between consecutive fixes against restricted and
    /// time-restricted zones only when the fixes are at most this many seconds apart.
    pub crossing_max_gap_secs: u32,
    /// ... and at most this many metres apart (a straight chord over a longer distance says
    /// little about the road taken).
    pub crossing_max_length_m: f64,
    /// ... and the segment runs at least this many metres inside the zone.
    pub crossing_min_inside_m: f64,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        MembershipConfig {
            enter_min_fixes: 2,
            enter_min_secs: 10,
            exit_min_fixes: 2,
            exit_min_secs: 10,
            exit_buffer_m: 20.0,
            transit_min_depth_m: 15.0,
            crossing_max_gap_secs: 120,
            crossing_max_length_m: 1500.0,
            crossing_min_inside_m: 20.0,
        }
    }
}

/// Ordering of positions per vehicle and handling of late data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderingConfig {
    /// Positions are held this many seconds (of GNSS time behind the newest fix, or of wall
    /// time since the gateway received them) and judged in GNSS-time order. 0 judges each
    /// position as it comes.
    pub reorder_window_secs: u32,
    /// Positions older than the last judged one are late (0x0704 blind-area batches). They are
    /// collected until none has arrived for this many seconds, then judged together.
    pub late_settle_secs: u32,
    /// A late batch is judged at once when it reaches this many positions.
    pub late_batch_max: usize,
    /// Episodes of the same kind and subject closer than this (seconds) are one episode when
    /// late data joins them.
    pub merge_gap_secs: u32,
    /// How long a closed episode is remembered so late data cannot open it twice (seconds).
    pub episode_memory_secs: u32,
    /// At most this many closed episodes are remembered per vehicle.
    pub episodes_per_vehicle: usize,
}

impl Default for OrderingConfig {
    fn default() -> Self {
        OrderingConfig {
            reorder_window_secs: 5,
            late_settle_secs: 10,
            late_batch_max: 20_000,
            merge_gap_secs: 120,
            episode_memory_secs: 48 * 3600,
            episodes_per_vehicle: 64,
        }
    }
}

/// Motion, stops and load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MotionConfig {
    /// A vehicle at or above this speed (km/h) is moving.
    pub moving_kmh: f64,
    /// A stop ends when the vehicle moves this far (metres) from where it stopped.
    pub stop_radius_m: f64,
    /// With a weight sensor but no load state, the body counts as loaded above this weight.
    pub loaded_min_weight_kg: f64,
    /// A change of load state is confirmed after this many consecutive fixes.
    pub load_change_min_fixes: u32,
    /// Without a load sensor, a vehicle that stayed at least this long (seconds) inside a
    /// site is assumed to leave it loaded.
    pub site_min_dwell_for_load_secs: u32,
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig {
            moving_kmh: 5.0,
            stop_radius_m: 50.0,
            loaded_min_weight_kg: 1000.0,
            load_change_min_fixes: 2,
            site_min_dwell_for_load_secs: 120,
        }
    }
}

/// How much evidence an episode carries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvidenceConfig {
    /// Positions kept in full (coordinates, time, raw frame): the first half and the last half
    /// of the episode.
    pub max_positions: usize,
    /// Ids of all the episode's positions are listed up to this many.
    pub max_position_ids: usize,
    /// An open episode is re-emitted (updated, with its whole evidence) at most this often,
    /// GNSS seconds. Its close always carries everything; updates keep the console and the
    /// case store current on long episodes without rewriting evidence every fix.
    pub update_interval_secs: u32,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            max_positions: 60,
            max_position_ids: 2000,
            update_interval_secs: 300,
        }
    }
}

/// `route_deviation`: loaded (or on a permitted trip) and off every corridor of the permit's
/// routes. Fixes inside sites and disposal grounds neither count nor reset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteDeviationConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Defaults: N >= 3 fixes and T >= 60 s off route; back after 2 fixes in the corridor.
    pub debounce: Debounce,
}

impl Default for RouteDeviationConfig {
    fn default() -> Self {
        RouteDeviationConfig {
            enabled: true,
            debounce: Debounce::new(3, 60, 2, 0),
        }
    }
}

/// `time_window`: moving inside a time-restricted zone outside its open hours, or moving on a
/// permitted trip outside the permit's daily windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimeWindowConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Debounce of both forms.
    pub debounce: Debounce,
}

impl Default for TimeWindowConfig {
    fn default() -> Self {
        TimeWindowConfig {
            enabled: true,
            debounce: Debounce::new(2, 0, 2, 0),
        }
    }
}

/// `restricted_zone`: inside a restricted zone outside its allowed windows (confirmed entry,
/// or a deep unconfirmed visit, or a segment crossing).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestrictedZoneConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Whether passages without a confirmed entry (one deep fix, or a crossing between two
    /// fixes) count.
    pub transits: bool,
}

impl Default for RestrictedZoneConfig {
    fn default() -> Self {
        RestrictedZoneConfig {
            enabled: true,
            transits: true,
        }
    }
}

/// `speeding`: above the applicable limit plus the tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpeedingConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Fraction above the limit tolerated (0.10 = limit + 10 %).
    pub tolerance: f64,
    /// Limit where no zone or route sets one, km/h; `None` disables it.
    pub default_limit_kmh: Option<f64>,
    /// Whether the terminal's own overspeed alarm (alarm bit 1) counts as being over.
    pub use_terminal_alarm: bool,
    /// Defaults: over for >= 10 s and >= 2 fixes; cleared after 2 fixes and 10 s under.
    pub debounce: Debounce,
}

impl Default for SpeedingConfig {
    fn default() -> Self {
        SpeedingConfig {
            enabled: true,
            tolerance: 0.10,
            default_limit_kmh: Some(60.0),
            use_terminal_alarm: true,
            debounce: Debounce::new(2, 10, 2, 10),
        }
    }
}

/// `illegal_dumping`: lift raised, or loaded-to-empty, outside every disposal ground; with no
/// sensors, a loaded vehicle stopped long away from every site and disposal ground.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IllegalDumpingConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Consecutive fixes with the lift up before it counts.
    pub lift_min_fixes: u32,
    /// Stop length (seconds) that makes a sensorless loaded vehicle a suspect.
    pub stop_min_secs: u32,
    /// The stop must be at least this far (metres) from every site and disposal ground.
    pub away_from_fences_m: f64,
}

impl Default for IllegalDumpingConfig {
    fn default() -> Self {
        IllegalDumpingConfig {
            enabled: true,
            lift_min_fixes: 1,
            stop_min_secs: 300,
            away_from_fences_m: 100.0,
        }
    }
}

/// `lid_open`: lid open while loaded and moving.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LidOpenConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Defaults: open for >= 30 s; closed after 2 fixes.
    pub debounce: Debounce,
}

impl Default for LidOpenConfig {
    fn default() -> Self {
        LidOpenConfig {
            enabled: true,
            debounce: Debounce::new(2, 30, 2, 0),
        }
    }
}

/// `no_permit`: transport work (loaded leg, or loaded and moving) with no valid permit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoPermitConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Debounce.
    pub debounce: Debounce,
}

impl Default for NoPermitConfig {
    fn default() -> Self {
        NoPermitConfig {
            enabled: true,
            debounce: Debounce::new(2, 0, 2, 60),
        }
    }
}

/// `unpermitted_site`: inside a site or disposal ground that is not on the vehicle's permit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnpermittedSiteConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Seconds inside (after the confirmed entry) before it counts; driving through a corner
    /// of a site on a public road is not working it.
    pub min_dwell_secs: u32,
}

impl Default for UnpermittedSiteConfig {
    fn default() -> Self {
        UnpermittedSiteConfig {
            enabled: true,
            min_dwell_secs: 60,
        }
    }
}

/// `overload`: weight above the rated load plus the tolerance while moving.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OverloadConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Fraction above the rated load tolerated.
    pub tolerance: f64,
    /// Debounce.
    pub debounce: Debounce,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        OverloadConfig {
            enabled: true,
            tolerance: 0.10,
            debounce: Debounce::new(2, 30, 2, 30),
        }
    }
}

/// `offline`: silent during an active trip (judged on the wall clock by `tick`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OfflineConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Seconds of silence before it counts.
    pub after_secs: u32,
}

impl Default for OfflineConfig {
    fn default() -> Self {
        OfflineConfig {
            enabled: true,
            after_secs: 600,
        }
    }
}

/// `gps_tamper`: antenna or power alarms, impossible jumps, no fix for long during a trip.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpsTamperConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// JT/T 808 alarm bits that count: by default 4 (GNSS module fault), 5 (antenna cut),
    /// 6 (antenna short), 7 (main power low), 8 (main power cut).
    pub alarm_mask: u32,
    /// Debounce of the alarm form.
    pub alarm_debounce: Debounce,
    /// Implied speed between fixes above this (km/h) is a jump.
    pub max_speed_kmh: f64,
    /// ... when the fixes are at least this far apart (metres).
    pub min_jump_m: f64,
    /// No GNSS fix for this long (seconds) during an active trip counts as shielding.
    pub no_fix_secs: u32,
}

impl Default for GpsTamperConfig {
    fn default() -> Self {
        GpsTamperConfig {
            enabled: true,
            alarm_mask: 0b1_1111_0000,
            alarm_debounce: Debounce::new(1, 0, 2, 0),
            max_speed_kmh: 150.0,
            min_jump_m: 500.0,
            no_fix_secs: 300,
        }
    }
}

/// `unregistered_terminal`: one episode per terminal not bound to a vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnregisteredTerminalConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The episode closes after this much silence (seconds).
    pub idle_close_secs: u32,
}

impl Default for UnregisteredTerminalConfig {
    fn default() -> Self {
        UnregisteredTerminalConfig {
            enabled: true,
            idle_close_secs: 24 * 3600,
        }
    }
}
