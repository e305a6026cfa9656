// The map every page uses: Leaflet with the bureau's configured tiles (or none: a plain
// background, offline), positions converted to the tiles' coordinate system for display only,
// and the registry's fences drawn on it.

import { api, listAll } from './api.js';
import { wgs84ToGcj02, gcj02ToWgs84 } from './coords.js';
import { h } from './dom.js';
import { t, enumLabel } from './i18n.js';

const L = window.L;

/** Used when the server has no console config (or it cannot be read): Liuzhou, no tiles. */
export const DEFAULT_CONFIG = { tiles: null, center: [24.324, 109.407], zoom: 12 };

let configPromise = null;

/** `GET /console-config`, read once per page load. */
export function consoleConfig() {
  if (!configPromise) {
    configPromise = api.get('/console-config').then(
      (config) => ({ ...DEFAULT_CONFIG, ...(config || {}) }),
      (error) => {
        console.warn('console-config unavailable, using the offline default', error);
        configPromise = null; // try again on the next map
        return DEFAULT_CONFIG;
      },
    );
  }
  return configPromise;
}

/** Metres covered by one screen pixel at `lat` and `zoom` (Web Mercator, 256-px tiles). */
export function metresPerPixel(lat, zoom) {
  return (40075016.686 * Math.cos((lat * Math.PI) / 180)) / 2 ** (zoom + 8);
}

const ZONE_STYLES = {
  restricted: { color: '#c62828', fillColor: '#ef5350', fillOpacity: 0.12, weight: 2, dashArray: '6 4' },
  time_restricted: { color: '#6a1b9a', fillColor: '#ab47bc', fillOpacity: 0.1, weight: 2, dashArray: '8 4' },
  speed: { color: '#f9a825', fillColor: '#fdd835', fillOpacity: 0.1, weight: 1.5 },
  district: { color: '#607d8b', fill: false, weight: 1, dashArray: '2 4' },
};
const SITE_STYLE = { color: '#8d5524', fillColor: '#c68642', fillOpacity: 0.35, weight: 1.5 };
const DISPOSAL_STYLE = { color: '#1b5e20', fillColor: '#66bb6a', fillOpacity: 0.35, weight: 1.5 };
const ROUTE_LINE_STYLE = { color: '#1565c0', weight: 2, opacity: 0.9 };
const CORRIDOR_STYLE = { color: '#42a5f5', opacity: 0.22, lineCap: 'round', lineJoin: 'round' };

/** A Leaflet map in `el` set up from the console config. */
export class MapView {
  constructor(el, config = DEFAULT_CONFIG) {
    this.config = config;
    const tiles = config.tiles && config.tiles.url ? config.tiles : null;
    this.coordSys = tiles && tiles.coord_sys === 'gcj02' ? 'gcj02' : 'wgs84';
    el.classList.add('map', tiles ? 'with-tiles' : 'no-tiles');
    el.dataset.coordSys = this.coordSys;
    this.map = L.map(el, { attributionControl: Boolean(tiles), zoomSnap: 0.5 });
    this.map.createPane('zones').style.zIndex = 350;
    this.map.createPane('trucks').style.zIndex = 450;
    this.svg = L.svg({ padding: 0.5 });
    if (tiles) {
      L.tileLayer(tiles.url, {
        attribution: tiles.attribution || '',
        maxZoom: Number(tiles.max_zoom) || 18,
        subdomains: tiles.subdomains || 'abc',
      }).addTo(this.map);
    }
    const center = Array.isArray(config.center) ? config.center : DEFAULT_CONFIG.center;
    this.map.setView(this.toDisplay(center[0], center[1]), Number(config.zoom) || DEFAULT_CONFIG.zoom);
    L.control.scale({ imperial: false }).addTo(this.map);
    this.corridors = [];
    this.map.on('zoomend', () => this.resizeCorridors());
  }

  /** WGS-84 -> the tiles' system, as a Leaflet LatLng. */
  toDisplay(lat, lon) {
    if (this.coordSys === 'gcj02') {
      const [gLat, gLon] = wgs84ToGcj02(lat, lon);
      return L.latLng(gLat, gLon);
    }
    return L.latLng(lat, lon);
  }

  /** A point clicked on the map back to WGS-84 [lat, lon]. */
  fromDisplay(latlng) {
    if (this.coordSys === 'gcj02') return gcj02ToWgs84(latlng.lat, latlng.lng);
    return [latlng.lat, latlng.lng];
  }

  /** GeoJSON positions ([lon, lat] at any nesting depth) -> display LatLngs, same nesting. */
  positions(coordinates) {
    if (!Array.isArray(coordinates)) return [];
    if (typeof coordinates[0] === 'number') return this.toDisplay(coordinates[1], coordinates[0]);
    return coordinates.map((c) => this.positions(c));
  }

  /** Lines of a LineString / MultiLineString geometry as display LatLng arrays. */
  lines(geometry) {
    if (!geometry) return [];
    if (geometry.type === 'LineString') return [this.positions(geometry.coordinates)];
    if (geometry.type === 'MultiLineString') return this.positions(geometry.coordinates);
    return [];
  }

  /** Polygons of a Polygon / MultiPolygon geometry in Leaflet's nesting. */
  polygons(geometry) {
    if (!geometry) return [];
    if (geometry.type === 'Polygon') return [this.positions(geometry.coordinates)];
    if (geometry.type === 'MultiPolygon') return this.positions(geometry.coordinates);
    return [];
  }

  /** Sets every route corridor's stroke to its corridor width on the ground at this zoom: a
   * round-capped stroke 2w wide is exactly the buffer of the centre line by w. */
  resizeCorridors() {
    const zoom = this.map.getZoom();
    for (const { layer, corridorM, lat } of this.corridors) {
      layer.setStyle({ weight: Math.max(1, (2 * corridorM) / metresPerPixel(lat, zoom)) });
    }
  }

  /**
   * Loads the registry's fences and draws them: zones by kind, sites, disposal grounds, routes
   * with their corridors. Each list that fails to load (for example a role not admitted) is
   * left out. Adds a layer switcher; returns the overlays by name.
   */
  async drawFences(extraOverlays = {}) {
    const [zones, sites, grounds, routes] = await Promise.all(
      ['/zones', '/sites', '/disposal-grounds', '/routes'].map((path) => listAll(path).catch((error) => {
        console.warn(`cannot load ${path}`, error);
        return [];
      })),
    );
    if (!this.map) return {}; // the page was left while loading
    const zoneLayer = L.layerGroup();
    for (const zone of zones) {
      const style = ZONE_STYLES[zone.kind] || ZONE_STYLES.restricted;
      for (const polygon of this.polygons(zone.geometry)) {
        L.polygon(polygon, { ...style, pane: 'zones', renderer: this.svg, className: `fence zone zone-${zone.kind}` })
          .bindTooltip(label(zone.name, enumLabel('zone_kind', zone.kind)), { sticky: true })
          .addTo(zoneLayer);
      }
    }
    const siteLayer = L.layerGroup();
    for (const site of sites) {
      for (const polygon of this.polygons(site.geometry)) {
        L.polygon(polygon, { ...SITE_STYLE, renderer: this.svg, className: 'fence site' })
          .bindTooltip(label(site.name, t('layer_sites')), { sticky: true }).addTo(siteLayer);
      }
    }
    const groundLayer = L.layerGroup();
    for (const ground of grounds) {
      for (const polygon of this.polygons(ground.geometry)) {
        L.polygon(polygon, { ...DISPOSAL_STYLE, renderer: this.svg, className: 'fence disposal' })
          .bindTooltip(label(ground.name, t('layer_disposal')), { sticky: true }).addTo(groundLayer);
      }
    }
    const routeLayer = L.layerGroup();
    this.corridors = [];
    for (const route of routes) {
      const lines = this.lines(route.geometry);
      const corridorM = Number(route.corridor_m) || 0;
      for (const line of lines) {
        if (line.length < 2) continue;
        if (corridorM > 0) {
          const corridor = L.polyline(line, { ...CORRIDOR_STYLE, renderer: this.svg, interactive: false, className: 'corridor' });
          corridor.addTo(routeLayer);
          this.corridors.push({ layer: corridor, corridorM, lat: line[0].lat });
        }
        L.polyline(line, { ...ROUTE_LINE_STYLE, renderer: this.svg, className: 'route' })
          .bindTooltip(label(route.name, `${t('layer_routes')} ±${corridorM} m`), { sticky: true })
          .addTo(routeLayer);
      }
    }
    this.resizeCorridors();
    const overlays = {
      [t('layer_zones')]: zoneLayer,
      [t('layer_sites')]: siteLayer,
      [t('layer_disposal')]: groundLayer,
      [t('layer_routes')]: routeLayer,
      ...extraOverlays,
    };
    for (const layer of Object.values(overlays)) layer.addTo(this.map);
    L.control.layers(null, overlays, { collapsed: true }).addTo(this.map);
    this.map.getContainer().dataset.fences = String(zones.length + sites.length + grounds.length + routes.length);
    return overlays;
  }

  /** Fits the view to display LatLngs (ignored when empty). Not animated: Leaflet drops a
   * zoom asked for while another zoom animation runs, and pages fit twice (marks, then track). */
  fit(latlngs) {
    const bounds = L.latLngBounds(latlngs.flat(Infinity));
    if (bounds.isValid()) this.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16, animate: false });
  }

  /** Removes the map (page left). */
  destroy() {
    if (this.map) this.map.remove();
    this.map = null;
  }
}

/** Tooltip content as an element: Leaflet would insert a string as HTML. */
export function label(name, kind) {
  return h('span', { class: 'tip' }, h('strong', null, name || ''), kind ? h('br') : null, kind || '');
}
