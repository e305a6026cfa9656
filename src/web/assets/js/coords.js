// WGS-84 -> GCJ-02 ("Mars coordinates") for display on AMap/Tencent tiles only; everything the
// API sends and receives stays WGS-84. Written from the published algorithm (Krasovsky 1940
// ellipsoid, the two polynomial-plus-sine series in x = lon - 105, y = lat - 35), as in the
// open eviltransform implementations; tests/browser checks it against the Rust coordtransform
// crate.

const A = 6378245.0;                 // Krasovsky 1940 semi-major axis, metres
const EE = 0.00669342162296594323;   // its first eccentricity squared
const PI = Math.PI;

/** Outside this box the transform does not apply (the published rectangle for China). */
export function outOfChina(lat, lon) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function deltaLat(x, y) {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
  r += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
  r += (160.0 * Math.sin(y / 12.0 * PI) + 320.0 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
  return r;
}

function deltaLon(x, y) {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
  r += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
  r += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
  return r;
}

/** WGS-84 [lat, lon] -> GCJ-02 [lat, lon]. */
export function wgs84ToGcj02(lat, lon) {
  if (outOfChina(lat, lon)) return [lat, lon];
  const x = lon - 105.0;
  const y = lat - 35.0;
  const radLat = lat / 180.0 * PI;
  let magic = Math.sin(radLat);
  magic = 1 - EE * magic * magic;
  const sqrtMagic = Math.sqrt(magic);
  const dLat = (deltaLat(x, y) * 180.0) / ((A * (1 - EE)) / (magic * sqrtMagic) * PI);
  const dLon = (deltaLon(x, y) * 180.0) / (A / sqrtMagic * Math.cos(radLat) * PI);
  return [lat + dLat, lon + dLon];
}

/**
 * GCJ-02 [lat, lon] -> WGS-84 [lat, lon], by fixed-point iteration (no closed form exists);
 * converges to well under a millimetre. Used when a user clicks a point on a GCJ-02 map.
 */
export function gcj02ToWgs84(lat, lon) {
  if (outOfChina(lat, lon)) return [lat, lon];
  let wLat = lat;
  let wLon = lon;
  for (let i = 0; i < 30; i += 1) {
    const [gLat, gLon] = wgs84ToGcj02(wLat, wLon);
    const eLat = gLat - lat;
    const eLon = gLon - lon;
    wLat -= eLat;
    wLon -= eLon;
    if (Math.abs(eLat) < 1e-10 && Math.abs(eLon) < 1e-10) break;
  }
  return [wLat, wLon];
}
