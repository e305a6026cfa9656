// Tracks: GET /vehicles/{id}/track as GeoJSON points, drawn as a line with start and end marks.

import { api } from './api.js';

const L = window.L;

/** The track's point features in time order, with parsed times (`ms`); bad features dropped. */
export async function fetchTrack(vehicleId, from, to, simplify) {
  const collection = await api.get(`/vehicles/${encodeURIComponent(vehicleId)}/track`, { from, to, simplify });
  const features = Array.isArray(collection && collection.features) ? collection.features : [];
  return features
    .filter((f) => f && f.geometry && f.geometry.type === 'Point' && Array.isArray(f.geometry.coordinates)
      && Number.isFinite(f.geometry.coordinates[0]) && Number.isFinite(f.geometry.coordinates[1]))
    .map((f) => ({
      lon: f.geometry.coordinates[0],
      lat: f.geometry.coordinates[1],
      props: f.properties || {},
      ms: Date.parse((f.properties || {}).time),
    }))
    .filter((p) => Number.isFinite(p.ms))
    .sort((a, b) => a.ms - b.ms);
}

/** Draws `points` on `view` as a polyline with class `className` plus start/end marks;
 * returns the layer group and the display LatLngs. */
export function drawTrack(view, points, className, color = '#6a1b9a') {
  const latlngs = points.map((p) => view.toDisplay(p.lat, p.lon));
  const group = L.layerGroup();
  if (latlngs.length) {
    L.polyline(latlngs, { color, weight: 4, opacity: 0.85, renderer: view.svg, className }).addTo(group);
    L.circleMarker(latlngs[0], { radius: 6, color: '#fff', weight: 2, fillColor: '#2e7d32', fillOpacity: 1, renderer: view.svg, className: `${className}-start` }).addTo(group);
    L.circleMarker(latlngs[latlngs.length - 1], { radius: 6, color: '#fff', weight: 2, fillColor: '#c62828', fillOpacity: 1, renderer: view.svg, className: `${className}-end` }).addTo(group);
  }
  group.addTo(view.map);
  return { group, latlngs };
}

/** Index of the last point at or before `ms` (binary search); 0 before the first. */
export function indexAt(points, ms) {
  let lo = 0;
  let hi = points.length - 1;
  if (hi < 0 || ms <= points[0].ms) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (points[mid].ms <= ms) lo = mid; else hi = mid - 1;
  }
  return lo;
}
