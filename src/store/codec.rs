//! Conversions at the database boundary: times that bind the same way on both backends, and
//! geometries as WKB.

use chrono::{DateTime, Utc};
use geo::BoundingRect;
use geo_traits::to_geo::ToGeoGeometry;
use geo_types::{Geometry, MultiLineString, MultiPolygon};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

use super::StoreError;

/// A UTC instant that is `timestamptz` on PostgreSQL and INTEGER microseconds since the Unix
/// epoch on SQLite, so one query text and one bind sequence serve both backends (sqlx's own
/// SQLite chrono encoding is text with a variable number of fraction digits, which does not
/// sort).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ts(pub DateTime<Utc>);

impl Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Ts {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Ts(<DateTime<Utc> as Decode<Postgres>>::decode(value)?))
    }
}

impl Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for Ts {
    fn encode_by_ref(
        &self,
        args: &mut Vec<SqliteArgumentValue<'q>>,
    ) -> Result<IsNull, BoxDynError> {
        args.push(SqliteArgumentValue::Int64(self.0.timestamp_micros()));
        Ok(IsNull::No)
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let micros = <i64 as Decode<Sqlite>>::decode(value)?;
        DateTime::from_timestamp_micros(micros)
            .map(Ts)
            .ok_or_else(|| format!("timestamp {micros} us is out of range").into())
    }
}

/// Encodes a geometry as little-endian ISO WKB (what `ST_GeomFromWKB` reads).
pub(crate) fn to_wkb(geometry: &Geometry<f64>) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(wkb::writer::geometry_wkb_size(geometry));
    wkb::writer::write_geometry(
        &mut out,
        geometry,
        &wkb::writer::WriteOptions {
            endianness: wkb::Endianness::LittleEndian,
        },
    )
    .map_err(|e| StoreError::Invalid(format!("geometry cannot be encoded as WKB: {e}")))?;
    Ok(out)
}

/// Decodes WKB into a geometry.
pub(crate) fn from_wkb(bytes: &[u8]) -> Result<Geometry<f64>, StoreError> {
    let parsed = wkb::reader::read_wkb(bytes)
        .map_err(|e| StoreError::Corrupt(format!("unreadable WKB: {e}")))?;
    parsed
        .try_to_geometry()
        .ok_or_else(|| StoreError::Corrupt("WKB holds an unsupported geometry".into()))
}

/// Decodes WKB holding a Polygon or MultiPolygon.
pub(crate) fn multipolygon_from_wkb(bytes: &[u8]) -> Result<MultiPolygon<f64>, StoreError> {
    match from_wkb(bytes)? {
        Geometry::MultiPolygon(mp) => Ok(mp),
        Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        other => Err(StoreError::Corrupt(format!(
            "expected a polygon, found {}",
            geometry_name(&other)
        ))),
    }
}

/// Decodes WKB holding a LineString or MultiLineString.
pub(crate) fn multilinestring_from_wkb(bytes: &[u8]) -> Result<MultiLineString<f64>, StoreError> {
    match from_wkb(bytes)? {
        Geometry::MultiLineString(ml) => Ok(ml),
        Geometry::LineString(l) => Ok(MultiLineString(vec![l])),
        other => Err(StoreError::Corrupt(format!(
            "expected a line, found {}",
            geometry_name(&other)
        ))),
    }
}

/// Name of a geometry type, for messages.
pub(crate) fn geometry_name(geometry: &Geometry<f64>) -> &'static str {
    match geometry {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) => "Line",
        Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        Geometry::Rect(_) => "Rect",
        Geometry::Triangle(_) => "Triangle",
    }
}

/// A bounding box in degrees: SQLite's spatial prefilter columns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bbox {
    /// West edge.
    pub min_lon: f64,
    /// South edge.
    pub min_lat: f64,
    /// East edge.
    pub max_lon: f64,
    /// North edge.
    pub max_lat: f64,
}

impl Bbox {
    /// The bounding box of a geometry; an empty geometry cannot be stored.
    pub(crate) fn of(geometry: &Geometry<f64>) -> Result<Bbox, StoreError> {
        let rect = geometry
            .bounding_rect()
            .ok_or_else(|| StoreError::Invalid("empty geometry".into()))?;
        Ok(Bbox {
            min_lon: rect.min().x,
            min_lat: rect.min().y,
            max_lon: rect.max().x,
            max_lat: rect.max().y,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{LineString, Polygon, polygon};

    #[test]
    fn wkb_round_trips_polygons_and_lines() {
        let poly: Polygon<f64> = polygon![
            (x: 109.40, y: 24.30), (x: 109.41, y: 24.30), (x: 109.41, y: 24.31), (x: 109.40, y: 24.30)
        ];
        let mp = MultiPolygon(vec![poly]);
        let bytes = to_wkb(&Geometry::MultiPolygon(mp.clone())).expect("encode");
        assert_eq!(multipolygon_from_wkb(&bytes).expect("decode"), mp);

        let line = MultiLineString(vec![LineString::from(vec![
            (109.1, 24.1),
            (109.2, 24.15),
            (109.3, 24.12),
        ])]);
        let bytes = to_wkb(&Geometry::MultiLineString(line.clone())).expect("encode");
        assert_eq!(multilinestring_from_wkb(&bytes).expect("decode"), line);
        assert!(multipolygon_from_wkb(&bytes).is_err());
    }

    #[test]
    fn garbage_wkb_is_an_error_not_a_panic() {
        for bytes in [&[][..], &[1, 2, 3], &[1, 6, 0, 0, 0, 255, 255, 255, 255]] {
            assert!(from_wkb(bytes).is_err());
        }
    }
}
