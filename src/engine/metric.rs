//! Distances in metres on the WGS-84 ellipsoid through a local metric projection.
//!
//! Fences and positions are stored in degrees. For corridor widths, exit buffers and jump
//! checks we need metres; over the few kilometres that matter for one check, scaling degrees by
//! the ellipsoid's radii of curvature at the point's latitude (the "cheap ruler" projection) is
//! within 0.1 % of the geodesic distance, far below GPS error, and needs no trigonometry per
//! segment.

/// Metres per degree of longitude and latitude around one latitude on the WGS-84 ellipsoid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalMetric {
    /// Metres per degree of longitude at this latitude (shrinks towards the poles).
    pub kx: f64,
    /// Metres per degree of latitude at this latitude (the meridional scale).
    pub ky: f64,
}

/// WGS-84 semi-major axis in metres.
const WGS84_A: f64 = 6_378_137.0;
/// WGS-84 flattening.
const WGS84_F: f64 = 1.0 / 298.257_223_563;

impl LocalMetric {
    /// The local scale at latitude `lat` (degrees).
    pub fn at_lat(lat: f64) -> LocalMetric {
        let e2 = WGS84_F * (2.0 - WGS84_F);
        let metres_per_radian = WGS84_A * std::f64::consts::PI / 180.0;
        let cos_lat = lat.to_radians().cos();
        let w2 = 1.0 / (1.0 - e2 * (1.0 - cos_lat * cos_lat));
        let w = w2.sqrt();
        LocalMetric {
            kx: metres_per_radian * w * cos_lat,
            ky: metres_per_radian * w * w2 * (1.0 - e2),
        }
    }

    /// Distance in metres between two (lon, lat) points near this metric's latitude.
    pub fn distance_m(&self, a: (f64, f64), b: (f64, f64)) -> f64 {
        let dx = (b.0 - a.0) * self.kx;
        let dy = (b.1 - a.1) * self.ky;
        (dx * dx + dy * dy).sqrt()
    }

    /// Squared distance in square metres from point `p` to segment `a`-`b` (all lon, lat).
    pub fn segment_distance2_m2(&self, p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
        let vx = (b.0 - a.0) * self.kx;
        let vy = (b.1 - a.1) * self.ky;
        let wx = (p.0 - a.0) * self.kx;
        let wy = (p.1 - a.1) * self.ky;
        segment_distance2(wx, wy, vx, vy)
    }

    /// Distance in metres from point `p` to segment `a`-`b` (all lon, lat).
    pub fn segment_distance_m(&self, p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
        self.segment_distance2_m2(p, a, b).sqrt()
    }
}

/// Squared distance from the point `w` (relative to the segment start) to the segment from the
/// origin to `v`, in a plane with metric coordinates.
#[inline]
pub(crate) fn segment_distance2(wx: f64, wy: f64, vx: f64, vy: f64) -> f64 {
    let len2 = vx * vx + vy * vy;
    let t = if len2 > 0.0 {
        ((wx * vx + wy * vy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let dx = wx - t * vx;
    let dy = wy - t * vy;
    dx * dx + dy * dy
}

/// Great-circle distance in metres between two (lon, lat) points, for jump checks over long
/// gaps where the local projection no longer holds.
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    use geo::{Distance, Haversine, Point};
    Haversine.distance(Point::new(a.0, a.1), Point::new(b.0, b.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Geodesic, Point};

    #[test]
    fn matches_geodesic_within_a_tenth_of_a_percent() {
        for &lat in &[0.0, 24.3, 45.0, 60.0] {
            let m = LocalMetric::at_lat(lat);
            for &(dlon, dlat) in &[(0.001, 0.0), (0.0, 0.001), (0.003, -0.002), (0.01, 0.01)] {
                let a = (109.4, lat);
                let b = (109.4 + dlon, lat + dlat);
                let ours = m.distance_m(a, b);
                let geodesic = Geodesic.distance(Point::new(a.0, a.1), Point::new(b.0, b.1));
                let rel = (ours - geodesic).abs() / geodesic;
                assert!(rel < 1e-3, "lat {lat}: ours {ours} geodesic {geodesic}");
            }
        }
    }

    #[test]
    fn segment_distance_clamps_to_ends() {
        let m = LocalMetric::at_lat(24.3);
        let a = (109.40, 24.30);
        let b = (109.41, 24.30);
        // Beyond the end: distance to the end point.
        let p = (109.42, 24.30);
        let d = m.segment_distance_m(p, a, b);
        assert!((d - m.distance_m(p, b)).abs() < 1e-9);
        // Perpendicular to the middle.
        let q = (109.405, 24.301);
        let d = m.segment_distance_m(q, a, b);
        assert!((d - m.ky * 0.001).abs() < 1e-6);
    }
}
