// The trucks on the live map: one canvas circle marker per vehicle, updated in place. Updates
// are coalesced per animation frame (latest position per vehicle), so a burst of messages costs
// one redraw; canvas rather than DOM markers keeps 20,000 trucks smooth.

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

function styleFor(state, selected) {
  const color = STATE_COLORS[state] || STATE_COLORS.unknown;
  return {
    radius: selected ? 8 : 5,
    color: selected ? '#000' : '#fff',
    weight: selected ? 3 : 1,
    fillColor: color,
    fillOpacity: 0.95,
  };
}

export class TruckLayer {
  /** `view` is a MapView; `onSelect(vehicleId)` runs on a click; `onCount()` after changes. */
  constructor(view, { onSelect, onCount }) {
    this.view = view;
    this.onSelect = onSelect;
    this.onCount = onCount;
    this.renderer = L.canvas({ pane: 'trucks', padding: 0.2, tolerance: 3 });
    this.group = L.layerGroup().addTo(view.map);
    this.trucks = new Map(); // vehicle_id -> { data, marker, shown }
    this.pending = new Map();
    this.frame = 0;
    this.selected = null;
    this.filter = { companyId: '', states: null }; // states: Set or null for all
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

  /** Applies the queued positions now. */
  flush() {
    this.frame = 0;
    if (!this.view.map) return;
    const batch = this.pending;
    this.pending = new Map();
    let membershipChanged = false;
    for (const p of batch.values()) {
      const truck = this.trucks.get(p.vehicle_id);
      if (truck) {
        // A late (older) position never moves a marker back.
        if (Date.parse(truck.data.time) > Date.parse(p.time)) continue;
        const stateChanged = truck.data.state !== p.state;
        const companyChanged = truck.data.company_id !== p.company_id;
        truck.data = p;
        truck.marker.setLatLng(this.view.toDisplay(p.lat, p.lon));
        if (stateChanged) truck.marker.setStyle(styleFor(p.state, this.selected === p.vehicle_id));
        if (stateChanged || companyChanged) membershipChanged = this.applyFilterTo(truck) || membershipChanged;
      } else {
        const marker = L.circleMarker(this.view.toDisplay(p.lat, p.lon), {
          ...styleFor(p.state, this.selected === p.vehicle_id),
          renderer: this.renderer,
        });
        const id = p.vehicle_id;
        marker.on('click', () => this.onSelect?.(id));
        const created = { data: p, marker, shown: false };
        this.trucks.set(id, created);
        this.applyFilterTo(created);
        membershipChanged = true;
      }
    }
    if (membershipChanged || batch.size) this.onCount?.();
  }

  matches(data) {
    if (this.filter.companyId && data.company_id !== this.filter.companyId) return false;
    if (this.filter.states && !this.filter.states.has(data.state || 'unknown')) return false;
    return true;
  }

  /** Shows or hides one truck per the filter; true when that changed. */
  applyFilterTo(truck) {
    const show = this.matches(truck.data);
    if (show === truck.shown) return false;
    truck.shown = show;
    if (show) this.group.addLayer(truck.marker);
    else this.group.removeLayer(truck.marker);
    return true;
  }

  /** Sets the company and state filters (states: Set of state names, or null for all). */
  setFilter(filter) {
    this.filter = { ...this.filter, ...filter };
    for (const truck of this.trucks.values()) this.applyFilterTo(truck);
    this.onCount?.();
  }

  /** Highlights one truck (or none). */
  select(vehicleId) {
    const previous = this.selected && this.trucks.get(this.selected);
    this.selected = vehicleId;
    if (previous) previous.marker.setStyle(styleFor(previous.data.state, false));
    const truck = vehicleId && this.trucks.get(vehicleId);
    if (truck) {
      truck.marker.setStyle(styleFor(truck.data.state, true));
      truck.marker.bringToFront();
    }
  }

  get(vehicleId) {
    const truck = this.trucks.get(vehicleId);
    return truck ? truck.data : null;
  }

  /** Trucks currently drawn (after filters). */
  shownCount() {
    let n = 0;
    for (const truck of this.trucks.values()) if (truck.shown) n += 1;
    return n;
  }

  get total() { return this.trucks.size; }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.group.clearLayers();
  }
}
