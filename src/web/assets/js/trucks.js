// The trucks on the live map, drawn on one canvas: one circle per vehicle, updated in place.
//
// Why not a Leaflet marker per truck: DOM markers are out of the question at 20,000 trucks, and
// even Leaflet's canvas circleMarkers fill and stroke each circle separately (40,000 canvas
// calls per redraw, hundreds of milliseconds on this class of machine). This layer keeps the
// trucks in a Map, caches their projected pixels, and draws all trucks of one state as a single
// path: a redraw is a dozen fill/stroke calls. Updates are coalesced per animation frame
// (latest position per vehicle), so a burst of messages costs one redraw.

const L = window.L;

/** Marker colour per vehicle state (docs/api.md `state`). */
export const STATE_COLORS = {
  moving: '#2e7d32',
  stopped: '#1e88e5',
  loaded: '#ef6c00',
  violation: '#d50000',
  offline: '#9e9e9e',
  unknown: '#bdbdbd',
};

const RADIUS = 5;
const SELECTED_RADIUS = 8;
const HIT_SLOP = 3; // pixels around a circle that still count as a click on it
const PADDING = 0.2; // canvas overhang beyond the view, so short pans show trucks at once

/** The Leaflet layer that owns the canvas; the TruckLayer below owns the trucks. */
const TruckCanvas = L.Layer.extend({
  initialize(owner) {
    this.owner = owner;
    this.frame = 0;
  },
  onAdd(map) {
    // leaflet-zoom-hide: hidden during zoom animations, redrawn when they end.
    this.canvas = L.DomUtil.create('canvas', 'truck-canvas leaflet-zoom-hide');
    this.canvas.dataset.testid = 'truck-canvas';
    map.getPane('trucks').appendChild(this.canvas);
    this.context = this.canvas.getContext('2d');
    map.on('moveend zoomend resize viewreset', this.reset, this);
    map.on('click', this.onClick, this);
    map.on('mousemove', this.onHover, this);
    this.reset();
  },
  onRemove(map) {
    map.off('moveend zoomend resize viewreset', this.reset, this);
    map.off('click', this.onClick, this);
    map.off('mousemove', this.onHover, this);
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.canvas.remove();
    map.getContainer().style.cursor = '';
  },
  reset() {
    const map = this._map;
    if (!map) return;
    const size = map.getSize();
    const pad = size.multiplyBy(PADDING).round();
    const ratio = window.devicePixelRatio || 1;
    const width = size.x + 2 * pad.x;
    const height = size.y + 2 * pad.y;
    this.pad = pad;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    L.DomUtil.setPosition(this.canvas, map.containerPointToLayerPoint([-pad.x, -pad.y]));
    this.draw();
  },
  redraw() {
    if (!this.frame && this._map) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.draw();
      });
    }
  },
  draw() {
    if (!this._map) return;
    const ratio = window.devicePixelRatio || 1;
    this.context.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.owner.drawOn(this.context, this._map, this.pad);
  },
  onClick(event) {
    const id = this.owner.hit(event.containerPoint);
    if (id) this.owner.onSelect?.(id);
  },
  onHover(event) {
    if (this.hoverPending) return;
    this.hoverPending = true;
    requestAnimationFrame(() => {
      this.hoverPending = false;
      if (!this._map) return;
      this._map.getContainer().style.cursor = this.owner.hit(event.containerPoint) ? 'pointer' : '';
    });
  },
});

export class TruckLayer {
  /** `view` is a MapView; `onSelect(vehicleId)` runs on a click; `onCount()` after changes. */
  constructor(view, { onSelect, onCount } = {}) {
    this.view = view;
    this.onSelect = onSelect;
    this.onCount = onCount;
    this.trucks = new Map(); // vehicle_id -> { data, ms, latlng, shown, px, pxZoom }
    this.pending = new Map();
    this.frame = 0;
    this.selected = null;
    this.shown = 0;
    this.filter = { companyId: '', states: null }; // states: Set, or null for all
    /** The Leaflet layer (for the layer switcher). */
    this.layer = new TruckCanvas(this).addTo(view.map);
  }

  /** Queues positions (latest per vehicle wins); applied on the next animation frame. */
  update(positions) {
    for (const p of positions) {
      if (!p || typeof p.vehicle_id !== 'string' || !Number.isFinite(p.lat) || !Number.isFinite(p.lon)) continue;
      const queued = this.pending.get(p.vehicle_id);
      if (!queued || !(Date.parse(queued.time) > Date.parse(p.time))) this.pending.set(p.vehicle_id, p);
    }
    if (!this.frame && this.pending.size) this.frame = requestAnimationFrame(() => this.flush());
  }

  /** Applies the queued positions now and redraws once. */
  flush() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (!this.view.map || !this.pending.size) return;
    for (const p of this.pending.values()) this.apply(p);
    this.pending.clear();
    this.layer.redraw();
    this.onCount?.();
  }

  /** Moves (or creates) one truck. */
  apply(p) {
    const ms = Date.parse(p.time);
    const truck = this.trucks.get(p.vehicle_id);
    if (truck) {
      if (truck.ms > ms) return; // a late (older) position never moves a truck back
      const refilter = truck.data.state !== p.state || truck.data.company_id !== p.company_id;
      truck.data = p;
      truck.ms = ms;
      truck.latlng = this.view.toDisplay(p.lat, p.lon);
      truck.pxZoom = null;
      if (refilter) this.applyFilterTo(truck);
      return;
    }
    const created = { data: p, ms, latlng: this.view.toDisplay(p.lat, p.lon), shown: false, px: null, pxZoom: null };
    this.trucks.set(p.vehicle_id, created);
    this.applyFilterTo(created);
  }

  matches(data) {
    if (this.filter.companyId && data.company_id !== this.filter.companyId) return false;
    if (this.filter.states && !this.filter.states.has(data.state || 'unknown')) return false;
    return true;
  }

  applyFilterTo(truck) {
    const show = this.matches(truck.data);
    if (show !== truck.shown) this.shown += show ? 1 : -1;
    truck.shown = show;
  }

  /** Sets the company and state filters (states: Set of state names, or null for all). */
  setFilter(filter) {
    this.filter = { ...this.filter, ...filter };
    for (const truck of this.trucks.values()) this.applyFilterTo(truck);
    this.layer.redraw();
    this.onCount?.();
  }

  /** Highlights one truck (or none). */
  select(vehicleId) {
    this.selected = vehicleId;
    this.layer.redraw();
  }

  /** Projected pixel position of a truck at `zoom`, cached until it moves or the zoom changes. */
  pixel(truck, map, zoom) {
    if (truck.pxZoom !== zoom) {
      truck.px = map.project(truck.latlng, zoom);
      truck.pxZoom = zoom;
    }
    return truck.px;
  }

  /** Offset from projected pixels to container pixels for the map's current view. */
  static offset(map) {
    const center = map.getCenter();
    const projected = map.project(center, map.getZoom());
    const container = map.latLngToContainerPoint(center);
    return { x: container.x - projected.x, y: container.y - projected.y };
  }

  /** Draws every shown truck, one path per state colour, then the selected one on top. */
  drawOn(ctx, map, pad) {
    const zoom = map.getZoom();
    const offset = TruckLayer.offset(map);
    const dx = offset.x + pad.x;
    const dy = offset.y + pad.y;
    const maxX = map.getSize().x + 2 * pad.x + RADIUS;
    const maxY = map.getSize().y + 2 * pad.y + RADIUS;
    const paths = new Map();
    for (const truck of this.trucks.values()) {
      if (!truck.shown) continue;
      const px = this.pixel(truck, map, zoom);
      const x = px.x + dx;
      const y = px.y + dy;
      if (x < -RADIUS || y < -RADIUS || x > maxX || y > maxY) continue;
      const state = STATE_COLORS[truck.data.state] ? truck.data.state : 'unknown';
      let path = paths.get(state);
      if (!path) { path = new Path2D(); paths.set(state, path); }
      path.moveTo(x + RADIUS, y);
      path.arc(x, y, RADIUS, 0, 2 * Math.PI);
    }
    ctx.lineWidth = 1;
    ctx.strokeStyle = '#ffffff';
    // Violations last, so that they stay visible in a crowd.
    for (const state of ['offline', 'unknown', 'stopped', 'moving', 'loaded', 'violation']) {
      const path = paths.get(state);
      if (!path) continue;
      ctx.fillStyle = STATE_COLORS[state];
      ctx.fill(path);
      ctx.stroke(path);
    }
    const selected = this.selected && this.trucks.get(this.selected);
    if (selected && selected.shown) {
      const px = this.pixel(selected, map, zoom);
      ctx.beginPath();
      ctx.arc(px.x + dx, px.y + dy, SELECTED_RADIUS, 0, 2 * Math.PI);
      ctx.fillStyle = STATE_COLORS[selected.data.state] || STATE_COLORS.unknown;
      ctx.fill();
      ctx.lineWidth = 3;
      ctx.strokeStyle = '#000000';
      ctx.stroke();
    }
  }

  /** The id of the shown truck nearest to a container point, within its circle plus slop. */
  hit(point) {
    const map = this.view.map;
    if (!map) return null;
    const zoom = map.getZoom();
    const offset = TruckLayer.offset(map);
    const limit = (RADIUS + HIT_SLOP) ** 2;
    let best = null;
    let bestDistance = limit;
    for (const [id, truck] of this.trucks) {
      if (!truck.shown) continue;
      const px = this.pixel(truck, map, zoom);
      const ddx = px.x + offset.x - point.x;
      const ddy = px.y + offset.y - point.y;
      const distance = ddx * ddx + ddy * ddy;
      if (distance <= bestDistance) { best = id; bestDistance = distance; }
    }
    return best;
  }

  /** Container-pixel position of a truck (tests, and panning to a truck). */
  containerPoint(vehicleId) {
    const truck = this.trucks.get(vehicleId);
    const map = this.view.map;
    if (!truck || !map) return null;
    return map.latLngToContainerPoint(truck.latlng);
  }

  get(vehicleId) {
    const truck = this.trucks.get(vehicleId);
    return truck ? truck.data : null;
  }

  /** Trucks currently drawn (after filters). */
  shownCount() { return this.shown; }

  /** Trucks known, whatever the filters. */
  get total() { return this.trucks.size; }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.layer.remove();
  }
}
