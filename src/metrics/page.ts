// The live page served at / by --metrics: the packet path of the relay
// (the tutorial's diagram: pinger -> TUN -> relay -> socket -> network
// and back) or the overlay's node and peers, with counters and rates that
// refresh every second from /status.json, and charts of the rates since the
// page was opened (up to 10 minutes; uPlot, served by the daemon itself).
import { CHART_SCRIPT } from '../watch/chart-assets.js';

export const LIVE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tun-driver</title>
<link rel="stylesheet" href="/uplot.css">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2430; background: #f6f7f9; }
  h1 { font-size: 20px; margin: 0 0 4px; } .sub { color: #5b6472; margin-bottom: 20px; }
  .path { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; margin: 16px 0; }
  .box { background: #fff; border: 1px solid #c9d0da; border-radius: 8px; padding: 10px 14px; min-width: 120px; text-align: center; }
  .box b { display: block; font-size: 15px; } .box span { color: #5b6472; font-size: 12px; }
  .arrows { display: flex; flex-direction: column; font-size: 12px; color: #2a6; min-width: 150px; }
  .arrows .back { color: #36c; }
  table { border-collapse: collapse; background: #fff; margin-top: 12px; }
  th, td { border: 1px solid #d6dbe2; padding: 4px 10px; text-align: right; } th { background: #eef1f5; } td:first-child, th:first-child { text-align: left; }
  .drops { color: #a33; margin-top: 10px; } .stale { color: #a33; } .charts { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
</style></head>
<body>
<h1>tun-driver <span id="mode">…</span> on <span id="device">…</span></h1>
<div class="sub" id="summary">connecting…</div>
<div id="diagram"></div>
<div class="drops" id="drops"></div>
<div class="sub" id="iowait"></div>
<div class="charts"><div id="chart-pps"></div><div id="chart-bps"></div><div id="chart-drops"></div></div>
<script src="/uplot.js"></script>
<script>
${CHART_SCRIPT}
const el = (id) => document.getElementById(id);
const sum = (xs, key) => xs.reduce((n, x) => n + (x[key] || 0), 0);
function box(title, sub) { return '<div class="box"><b>' + title + '</b><span>' + sub + '</span></div>'; }
function arrows(out, back) { return '<div class="arrows"><div>' + out + ' &rarr;</div><div class="back">&larr; ' + back + '</div></div>'; }
function render(s) {
  el('mode').textContent = s.mode; el('device').textContent = s.device;
  el('summary').textContent = 'pid ' + s.pid + ', up ' + s.uptimeSeconds + ' s' + (s.mode === 'overlay' ? ', node ' + s.subnet + ' at ' + s.endpoint : ', subnet ' + s.subnet);
  const c = s.counters;
  let html;
  // Rates come from the daemon, which samples its counters once a second.
  if (s.mode === 'relay') {
    html = '<div class="path">' + box('pingers', s.subnet) + arrows('echo requests', 'replies') + box(s.device, 'TUN') +
      arrows('<span id="requests">' + c.requests + '</span> requests (' + fmt(s.rates.requestsPerSecond) + '/s)', '<span id="replies">' + c.replies + '</span> replies (' + fmt(s.rates.repliesPerSecond) + '/s)') +
      box('relay', s.flowCount + ' flows') + arrows('raw ICMP socket', 'errors ' + c.errorsRelayed) + box('network', 'host routing') + '</div>' +
      '<table id="flows"><tr><th>flow</th><th>id (out)</th><th>requests</th><th>replies</th><th>errors</th><th>idle s</th></tr>' +
      s.flows.map((f) => '<tr><td>' + f.src + ' &rarr; ' + f.dst + '</td><td>' + f.id + ' (' + f.outId + ')</td><td>' + f.requests + '</td><td>' + f.replies + '</td><td>' + f.errors + '</td><td>' + f.idleSeconds + '</td></tr>').join('') + '</table>';
  } else {
    html = '<div class="path">' + box('pods', s.subnet) + arrows('into ' + s.device, 'out of ' + s.device) + box(s.device, 'TUN') +
      arrows('<span id="sent">' + c.sent + '</span> sent (' + fmt(sum(s.peers, 'txPacketsPerSecond')) + '/s)', '<span id="delivered">' + c.delivered + '</span> delivered (' + fmt(sum(s.peers, 'rxPacketsPerSecond')) + '/s)') +
      box('overlay', 'UDP ' + s.endpoint) + '</div>' +
      '<table id="nodes"><tr><th>node subnet</th><th>public IP</th><th>tx packets</th><th>tx pkt/s</th><th>rx packets</th><th>rx pkt/s</th><th>tx bit/s</th><th>rx bit/s</th></tr>' +
      s.peers.map((p) => '<tr class="node"><td>' + p.subnet + '</td><td>' + p.publicIp + ':' + p.port + '</td><td>' + p.txPackets + '</td><td>' + fmt(p.txPacketsPerSecond) + '</td><td>' + p.rxPackets + '</td><td>' + fmt(p.rxPacketsPerSecond) + '</td><td>' + fmt(p.txBytesPerSecond * 8) + '</td><td>' + fmt(p.rxBytesPerSecond * 8) + '</td></tr>').join('') + '</table>';
  }
  el('diagram').innerHTML = html;
  const drops = Object.entries(c.dropped);
  el('drops').textContent = drops.length ? 'dropped: ' + drops.map(([k, v]) => k + ' ' + v).join(', ') : '';
  const w = s.ioWait;
  el('iowait').textContent = !w ? '' : w.mode === 'libuv' ? 'waits: libuv readiness callbacks'
    : 'waits: ' + w.mode + ', ' + w.wakes + ' wakes (' + fmt(w.wakesPerSecond) + '/s), ' + w.spins + ' answer spins (' + w.spinHits + ' caught)';
}
// Rates since the page opened, one point a second, the last 10 minutes.
const hist = { t: [], txPps: [], rxPps: [], txBps: [], rxBps: [], drops: {} };
let lastDrops = null;
const charts = { pps: new TimeChart(el('chart-pps'), 'packets/s', ' pkt/s'), bps: new TimeChart(el('chart-bps'), 'bits/s', 'b/s'), drops: new TimeChart(el('chart-drops'), 'drops/s by reason', '/s') };
function record(s) {
  const now = Date.now() / 1000;
  const relay = s.mode === 'relay';
  const point = relay ? [s.rates.requestsPerSecond, s.rates.repliesPerSecond, null, null]
    : [sum(s.peers, 'txPacketsPerSecond'), sum(s.peers, 'rxPacketsPerSecond'), sum(s.peers, 'txBytesPerSecond') * 8, sum(s.peers, 'rxBytesPerSecond') * 8];
  const dt = lastDrops ? now - lastDrops.t : 0;
  for (const [reason, count] of Object.entries(s.counters.dropped)) {
    if (!hist.drops[reason]) hist.drops[reason] = hist.t.map(() => null);
  }
  for (const reason of Object.keys(hist.drops)) {
    const before = lastDrops ? lastDrops.counts[reason] || 0 : null;
    hist.drops[reason].push(dt > 0 && before !== null ? Math.max(0, ((s.counters.dropped[reason] || 0) - before) / dt) : null);
  }
  lastDrops = { t: now, counts: { ...s.counters.dropped } };
  hist.t.push(now); hist.txPps.push(point[0]); hist.rxPps.push(point[1]); hist.txBps.push(point[2]); hist.rxBps.push(point[3]);
  if (hist.t.length > 600) for (const a of [hist.t, hist.txPps, hist.rxPps, hist.txBps, hist.rxBps, ...Object.values(hist.drops)]) a.shift();
  const [tx, rx] = relay ? ['requests', 'replies'] : ['sent', 'delivered'];
  charts.pps.set(hist.t, [{ label: tx, values: hist.txPps }, { label: rx, values: hist.rxPps }]);
  if (!relay) charts.bps.set(hist.t, [{ label: tx, values: hist.txBps }, { label: rx, values: hist.rxBps }]);
  const reasons = Object.keys(hist.drops).sort();
  if (reasons.length) charts.drops.set(hist.t, reasons.map((r) => ({ label: r, values: hist.drops[r] })));
}
async function tick() {
  try { const s = await (await fetch('/status.json')).json(); render(s); record(s); }
  catch (e) { el('summary').innerHTML = '<span class="stale">daemon not answering: ' + e + '</span>'; }
}
tick(); setInterval(tick, 1000);
</script></body></html>
`;
