// The live WebSocket (`/api/v1/live`): a snapshot, then position batches and violations;
// reconnects with capped exponential backoff and jitter so that a restarted server is not
// stormed by every console at once.

import { api, liveUrl } from './api.js';

const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;
const STABLE_AFTER_MS = 10_000; // a connection this old resets the backoff

/** Delay before reconnect attempt `attempt` (0-based): 1 s, 2 s, 4 s … capped at 30 s, with
 * the upper half jittered. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

export class LiveSocket {
  /**
   * handlers: onSnapshot({positions, violations}), onPositions(positions), onViolation(v),
   * onStatus('connecting' | 'connected' | 'reconnecting', delayMs).
   */
  constructor(handlers, query = {}) {
    this.handlers = handlers;
    this.query = query;
    this.attempt = 0;
    this.stopped = true;
    this.socket = null;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close();
    }
    this.socket = null;
  }

  connect() {
    if (this.stopped) return;
    this.status('connecting');
    let socket;
    try {
      socket = new WebSocket(liveUrl(this.query));
    } catch (error) {
      console.warn('live socket', error);
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    let openedAt = 0;
    socket.onopen = () => {
      openedAt = Date.now();
      this.status('connected');
    };
    socket.onmessage = (event) => this.dispatch(event.data);
    socket.onclose = () => {
      if (openedAt && Date.now() - openedAt > STABLE_AFTER_MS) this.attempt = 0;
      this.socket = null;
      this.scheduleReconnect();
    };
  }

  dispatch(data) {
    let message;
    try { message = JSON.parse(data); } catch { return; }
    if (!message || typeof message !== 'object') return;
    const h = this.handlers;
    if (message.type === 'snapshot') {
      h.onSnapshot?.({ positions: message.positions || [], violations: message.violations || [] });
    } else if (message.type === 'positions') {
      h.onPositions?.(message.positions || []);
    } else if (message.type === 'violation' && message.violation) {
      h.onViolation?.(message.violation);
    }
  }

  async scheduleReconnect() {
    if (this.stopped) return;
    // After a few failures, check the session: an expired token makes the API answer 401,
    // which sends the app to the login page instead of retrying for ever.
    if (this.attempt >= 2) {
      try { await api.get('/me'); } catch { /* network errors: keep retrying */ }
      if (this.stopped) return;
    }
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.status('reconnecting', delay);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  status(state, delayMs) {
    this.handlers.onStatus?.(state, delayMs);
  }
}
