// Prometheus metrics for a daemon (--metrics HOST:PORT). Values are read
// from the daemon's own counters when Prometheus scrapes, so the data path
// pays nothing for them except one histogram observation per batch.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { IoWaitStatus } from '../control/daemon-status.js';

export interface MetricsSource {
  daemon: 'relay' | 'overlay';
  /** Packets and bytes moved, by direction. */
  traffic(): { tunToNet: { packets: number; bytes: number }; netToTun: { packets: number; bytes: number } };
  drops(): Record<string, number>;
  /** Active flows (relay) or peers (overlay). */
  active(): number;
  /** Per-peer traffic (overlay). */
  peers?(): Array<{ subnet: string; txPackets: number; txBytes: number; rxPackets: number; rxBytes: number }>;
  /** Lease changes applied (overlay). */
  leaseEvents?(): number;
  /** How the data plane waits (--io-wait): its loop's mode and counters. */
  ioWait?(): IoWaitStatus;
}

const IO_WAIT_MODES = ['idle', 'hot', 'busy', 'libuv'] as const;

export interface DaemonMetrics {
  registry: Registry;
  /** Call once per batch with its size: `side` is where the batch was read. */
  observeBatch(side: 'tun' | 'net', size: number): void;
}

/** A counter whose value is kept elsewhere: set from `read` at each scrape. */
function mirroredCounter(registry: Registry, name: string, help: string, labelNames: string[], read: (set: (labels: Record<string, string>, value: number) => void) => void): void {
  new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      read((labels, value) => this.inc(labels, value));
    },
  });
}

export function createMetrics(src: MetricsSource): DaemonMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ daemon: src.daemon });
  mirroredCounter(registry, 'tun_driver_packets_total', 'Packets moved, by direction (tun_to_net: read from the TUN and sent; net_to_tun: received and written into the TUN)', ['direction'], (set) => {
    const t = src.traffic();
    set({ direction: 'tun_to_net' }, t.tunToNet.packets);
    set({ direction: 'net_to_tun' }, t.netToTun.packets);
  });
  mirroredCounter(registry, 'tun_driver_bytes_total', 'Bytes moved, by direction', ['direction'], (set) => {
    const t = src.traffic();
    set({ direction: 'tun_to_net' }, t.tunToNet.bytes);
    set({ direction: 'net_to_tun' }, t.netToTun.bytes);
  });
  mirroredCounter(registry, 'tun_driver_dropped_packets_total', 'Packets dropped, by reason', ['reason'], (set) => {
    for (const [reason, n] of Object.entries(src.drops())) set({ reason }, n);
  });
  new Gauge({
    name: src.daemon === 'relay' ? 'tun_driver_active_flows' : 'tun_driver_peers',
    help: src.daemon === 'relay' ? 'Pinger flows in the relay\'s table' : 'Nodes this node sends to',
    registers: [registry],
    collect() {
      this.set(src.active());
    },
  });
  if (src.peers) {
    const peers = src.peers.bind(src);
    mirroredCounter(registry, 'tun_driver_peer_packets_total', 'Packets to and from each peer', ['peer', 'direction'], (set) => {
      for (const p of peers()) {
        set({ peer: p.subnet, direction: 'tx' }, p.txPackets);
        set({ peer: p.subnet, direction: 'rx' }, p.rxPackets);
      }
    });
    mirroredCounter(registry, 'tun_driver_peer_bytes_total', 'Bytes to and from each peer', ['peer', 'direction'], (set) => {
      for (const p of peers()) {
        set({ peer: p.subnet, direction: 'tx' }, p.txBytes);
        set({ peer: p.subnet, direction: 'rx' }, p.rxBytes);
      }
    });
  }
  if (src.leaseEvents) {
    const events = src.leaseEvents.bind(src);
    mirroredCounter(registry, 'tun_driver_lease_events_total', 'Lease changes applied', [], (set) => set({}, events()));
  }
  if (src.ioWait) {
    const ioWait = src.ioWait.bind(src);
    new Gauge({
      name: 'tun_driver_io_wait_mode', help: 'How the data plane waits now: 1 for the current mode (idle, hot, busy: its own loop; libuv: --io-wait libuv)', labelNames: ['mode'], registers: [registry],
      collect() {
        const now = ioWait().mode;
        for (const mode of IO_WAIT_MODES) this.set({ mode }, mode === now ? 1 : 0);
      },
    });
    mirroredCounter(registry, 'tun_driver_io_wait_wakes_total', 'Readiness events the data plane\'s loop handled', [], (set) => {
      const w = ioWait();
      if (w.mode !== 'libuv') set({}, w.wakes);
    });
    mirroredCounter(registry, 'tun_driver_io_wait_answer_spins_total', 'Answer spins (polls without sleeping for an expected answer), by whether one came', ['outcome'], (set) => {
      const w = ioWait();
      if (w.mode === 'libuv') return;
      set({ outcome: 'caught' }, w.spinHits);
      set({ outcome: 'missed' }, w.spins - w.spinHits);
    });
    mirroredCounter(registry, 'tun_driver_io_wait_answer_spin_seconds_total', 'Time spent in answer spins', [], (set) => {
      const w = ioWait();
      if (w.mode !== 'libuv') set({}, w.spinMs / 1000);
    });
  }
  const batches = new Histogram({
    name: 'tun_driver_batch_size', help: 'Packets per batch read, by side', labelNames: ['side'], registers: [registry],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  });
  const tunBatches = batches.labels({ side: 'tun' });
  const netBatches = batches.labels({ side: 'net' });
  return {
    registry,
    observeBatch: (side, size) => (side === 'tun' ? tunBatches : netBatches).observe(size),
  };
}
