// The live page served at / by --metrics: the packet path of the relay
// (the seed article's diagram: pinger -> TUN -> relay -> socket -> network
// and back) or the overlay's node and peers, with counters and rates that
// refresh every second from /status.json. One self-contained HTML file.

export const LIVE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tun-driver</title>
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
  .drops { color: #a33; margin-top: 10px; } .stale { color: #a33; }
</style></head>
<body>
<h1>tun-driver <span id="mode">…</span> on <span id="device">…</span></h1>
<div class="sub" id="summary">connecting…</div>
<div id="diagram"></div>
<div class="drops" id="drops"></div>
<script>
const fmt = (n) => n >= 1e6 ? (n / 1e6).toFixed(1) + 'M' : n >= 1e3 ? (n / 1e3).toFixed(1) + 'k' : String(Math.round(n));
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
}
async function tick() {
  try { render(await (await fetch('/status.json')).json()); }
  catch (e) { el('summary').innerHTML = '<span class="stale">daemon not answering: ' + e + '</span>'; }
}
tick(); setInterval(tick, 1000);
</script></body></html>
`;
