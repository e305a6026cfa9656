// Track replay: one vehicle over a period, with a time slider and playback.

import { api, ApiError } from '../api.js';
import { MapView, consoleConfig } from '../basemap.js';
import { h, mount, select } from '../dom.js';
import { t, enumLabel } from '../i18n.js';
import { formatTime, isoToLocalInput, localInputToIso } from '../time.js';
import { fetchTrack, drawTrack, indexAt } from '../track.js';

const L = window.L;

export async function render(container, { params }) {
  const now = Date.now();
  const vehicleInput = h('input', { name: 'vehicle', list: 'replay-vehicles', required: true, value: params.get('vehicle') || '', testid: 'replay-vehicle' });
  const vehicleList = h('datalist', { id: 'replay-vehicles' });
  const fromInput = h('input', { type: 'datetime-local', required: true, testid: 'replay-from',
    value: params.get('from') ? isoToLocalInput(params.get('from')) : isoToLocalInput(new Date(now - 24 * 3600 * 1000)) });
  const toInput = h('input', { type: 'datetime-local', required: true, testid: 'replay-to',
    value: params.get('to') ? isoToLocalInput(params.get('to')) : isoToLocalInput(new Date(now)) });
  const message = h('p', { class: 'muted', testid: 'replay-message' });
  const slider = h('input', { type: 'range', min: 0, max: 0, step: 1000, value: 0, disabled: true, testid: 'replay-slider', class: 'slider' });
  const playButton = h('button', { type: 'button', disabled: true, testid: 'replay-play' }, t('replay_play'));
  const speedSelect = select({ testid: 'replay-speed' }, [['30', '30×'], ['120', '120×'], ['600', '600×'], ['1800', '1800×']]);
  speedSelect.value = '120';
  const readout = h('div', { class: 'readout', testid: 'replay-readout' });
  const pointsCount = h('span', { testid: 'replay-points' }, '0');
  const form = h('form', { class: 'toolbar', testid: 'replay-form' },
    h('label', null, t('replay_vehicle'), vehicleInput), vehicleList,
    h('label', null, `${t('replay_from')} (${t('beijing_time')})`, fromInput),
    h('label', null, t('replay_to'), toInput),
    h('button', { type: 'submit', class: 'primary', testid: 'replay-submit' }, t('replay_load')),
  );
  const mapEl = h('div', { class: 'map-canvas', testid: 'replay-map' });
  mount(container, h('div', { class: 'stack' },
    form,
    h('div', { class: 'toolbar' }, playButton, speedSelect, slider, h('span', null, t('replay_points'), ': ', pointsCount)),
    readout, message, mapEl));

  api.get('/vehicles', { limit: 1000 }).then((page) => {
    for (const v of page.items || []) vehicleList.append(h('option', { value: v.id }, v.plate || ''));
  }).catch((error) => console.warn('vehicles', error));

  const config = await consoleConfig();
  if (!mapEl.isConnected) return undefined;
  const view = new MapView(mapEl, config);
  view.drawFences().catch((error) => console.warn(error));
  let points = [];
  let trackLayer = null;
  const cursor = L.circleMarker([0, 0], { radius: 8, color: '#000', weight: 2, fillColor: '#ffeb3b', fillOpacity: 1, renderer: view.svg, className: 'replay-cursor' });
  let playing = 0;
  let lastFrame = 0;

  function showAt(ms) {
    if (!points.length) return;
    const p = points[indexAt(points, ms)];
    cursor.setLatLng(view.toDisplay(p.lat, p.lon));
    if (!view.map.hasLayer(cursor)) cursor.addTo(view.map);
    const props = p.props;
    const flags = Array.isArray(props.flags) && props.flags.length ? props.flags.join(', ') : '';
    mount(readout,
      h('strong', { testid: 'replay-time' }, formatTime(p.ms)), ' · ',
      `${Number.isFinite(props.speed_kmh) ? props.speed_kmh.toFixed(1) : '–'} ${t('kmh')}`, ' · ',
      `${t('load')}: ${enumLabel('load', props.load || 'unknown')}`, ' · ',
      `${t('lid')}: ${props.lid_open === true ? t('lid_open') : props.lid_open === false ? t('lid_closed') : t('unknown')}`, ' · ',
      `${t('lift')}: ${props.lift_up === true ? t('lift_up') : props.lift_up === false ? t('lift_down') : t('unknown')}`,
      flags ? ` · ${flags}` : '');
  }

  function stop() {
    if (playing) cancelAnimationFrame(playing);
    playing = 0;
    playButton.textContent = t('replay_play');
  }

  function frame(timestamp) {
    const elapsed = lastFrame ? timestamp - lastFrame : 0;
    lastFrame = timestamp;
    const next = Number(slider.value) + elapsed * Number(speedSelect.value);
    if (next >= Number(slider.max)) {
      slider.value = slider.max;
      showAt(Number(slider.max));
      stop();
      return;
    }
    slider.value = String(next);
    showAt(next);
    playing = requestAnimationFrame(frame);
  }

  playButton.addEventListener('click', () => {
    if (playing) { stop(); return; }
    if (Number(slider.value) >= Number(slider.max)) slider.value = slider.min;
    lastFrame = 0;
    playButton.textContent = t('replay_pause');
    playing = requestAnimationFrame(frame);
  });
  slider.addEventListener('input', () => showAt(Number(slider.value)));

  async function load() {
    stop();
    const vehicle = vehicleInput.value.trim();
    const from = localInputToIso(fromInput.value);
    const to = localInputToIso(toInput.value);
    if (!vehicle || !from || !to) return;
    message.textContent = t('loading');
    try {
      points = await fetchTrack(vehicle, from, to);
    } catch (error) {
      points = [];
      message.textContent = error instanceof ApiError && error.status === 404 ? t('not_found') : `${t('error')}: ${error.message}`;
    }
    if (!view.map) return;
    if (trackLayer) trackLayer.group.remove();
    cursor.remove();
    pointsCount.textContent = String(points.length);
    if (!points.length) {
      if (message.textContent === t('loading')) message.textContent = t('replay_empty');
      slider.disabled = true;
      playButton.disabled = true;
      mount(readout);
      return;
    }
    message.textContent = '';
    trackLayer = drawTrack(view, points, 'replay-track');
    view.fit(trackLayer.latlngs);
    slider.min = String(points[0].ms);
    slider.max = String(points[points.length - 1].ms);
    slider.value = slider.min;
    slider.disabled = false;
    playButton.disabled = false;
    showAt(points[0].ms);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = new URLSearchParams({ vehicle: vehicleInput.value.trim(), from: localInputToIso(fromInput.value) || '', to: localInputToIso(toInput.value) || '' });
    const target = `#/replay?${query}`;
    if (window.location.hash === target) load(); else window.location.hash = target; // re-render loads it
  });
  if (params.get('vehicle')) load();

  return () => { stop(); view.destroy(); };
}
