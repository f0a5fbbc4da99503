// The page `lab watch` serves at /: the cluster map (hosts, pods, TUNs and
// the tunnels between them, drawn to their current rates), ten minutes of
// rates per node or tunnel (uPlot), and a probe that draws a packet's
// path hop by hop. English and Chinese labels. One HTML file; its data
// comes from /cluster.json, /history.json and POST /probe.
import { CHART_SCRIPT } from './chart-assets.js';

/** Labels of the page in both languages (keys used by data-i18n and t()). */
export const PAGE_LABELS = {
  en: {
    title: 'tun-driver lab', map: 'Cluster map', charts: 'Rates over the last 10 minutes', probe: "A packet's path", from: 'from', to: 'to', run: 'Probe',
    pick: 'Click a host or a tunnel on the map to chart it.', pps: 'packets/s', bps: 'bits/s', drops: 'drops/s by reason', noDrops: 'no drops',
    up: 'daemon up', down: 'daemon DOWN', none: 'no daemon', pods: 'pods', subnet: 'subnet', tunnel: 'tunnel', stale: 'not answering', noHandshake: 'no handshake', linkDown: 'down',
    delivered: 'delivered: the reply came back', notDelivered: 'not delivered', stoppedAt: 'stopped at', doctor: 'doctor on', fix: 'fix', running: 'probing…', etcdLeases: 'etcd leases',
    tx: 'out', rx: 'in', passed: 'passed', failed: 'stopped here', 'not-reached': 'not reached',
    'hop.pod-to-tun': 'pod → cni0 → TUN (routed by the kernel)', 'hop.daemon-to-udp': 'daemon reads it, sends UDP', 'hop.udp-to-daemon': 'UDP arrives at the other daemon',
    'hop.daemon-to-tun': 'daemon writes it into its TUN', 'hop.tun-to-pod-and-back': 'TUN → cni0 → pod, and its reply back into the TUN', 'hop.reply-to-udp': 'daemon sends the reply over UDP',
    'hop.reply-udp-to-daemon': 'the reply arrives at the first daemon', 'hop.reply-daemon-to-tun': 'daemon writes the reply into its TUN', 'hop.reply-tun-to-pod': 'TUN → cni0 → pod: ping gets its reply',
    'hop.ping-to-tun': 'ping → TUN', 'hop.relay-to-network': 'relay reads it, sends it on a raw socket', 'hop.network-to-relay': 'the answer comes back to the relay',
    'hop.relay-to-tun': 'relay writes the answer into the TUN', 'hop.tun-to-ping': 'TUN → ping', 'hop.bridge': 'pod → cni0 → pod (same host)', 'hop.host-routes': 'pod → host → out of the pod network',
    'hop.pod-to-vtep': 'pod → cni0 → the VTEP (routed by the kernel)', 'hop.vtep-to-wire': 'the VTEP sends it as VXLAN in UDP', 'hop.wire-to-host': 'it arrives at the other host',
    'hop.vtep-decapsulates': "that host's VTEP takes it out of VXLAN", 'hop.host-to-pod': 'routed → cni0 → pod', 'hop.pod-replies': 'the pod replies into cni0',
    'hop.reply-to-wire': 'the reply leaves for the first host', 'hop.reply-wire-to-host': 'the reply arrives (and is decapsulated)', 'hop.reply-to-pod': '→ cni0 → pod: ping gets its reply',
    'hop.pod-to-wire': 'pod → cni0 → routed onto the underlay (no encapsulation)',
  },
  zh: {
    title: 'tun-driver 实验网络', map: '集群拓扑', charts: '最近 10 分钟的速率', probe: '一个包的路径', from: '从', to: '到', run: '探测',
    pick: '点击图中的主机或隧道查看其曲线。', pps: '包/秒', bps: '比特/秒', drops: '按原因的丢包/秒', noDrops: '无丢包',
    up: '守护进程运行中', down: '守护进程已停止', none: '无守护进程', pods: 'Pod', subnet: '子网', tunnel: '隧道', stale: '无响应', noHandshake: '未握手', linkDown: '中断',
    delivered: '已送达：收到了回复', notDelivered: '未送达', stoppedAt: '停在', doctor: 'doctor 诊断', fix: '修复', running: '探测中…', etcdLeases: 'etcd 租约',
    tx: '发出', rx: '收到', passed: '通过', failed: '停在这里', 'not-reached': '未到达',
    'hop.pod-to-tun': 'Pod → cni0 → TUN（内核路由）', 'hop.daemon-to-udp': '守护进程读出，经 UDP 发送', 'hop.udp-to-daemon': 'UDP 到达对端守护进程',
    'hop.daemon-to-tun': '守护进程写入它的 TUN', 'hop.tun-to-pod-and-back': 'TUN → cni0 → Pod，回复再回到 TUN', 'hop.reply-to-udp': '守护进程经 UDP 发回回复',
    'hop.reply-udp-to-daemon': '回复到达发起端守护进程', 'hop.reply-daemon-to-tun': '守护进程把回复写入 TUN', 'hop.reply-tun-to-pod': 'TUN → cni0 → Pod：ping 收到回复',
    'hop.ping-to-tun': 'ping → TUN', 'hop.relay-to-network': 'relay 读出，经原始套接字发出', 'hop.network-to-relay': '应答回到 relay',
    'hop.relay-to-tun': 'relay 把应答写入 TUN', 'hop.tun-to-ping': 'TUN → ping', 'hop.bridge': 'Pod → cni0 → Pod（同一主机）', 'hop.host-routes': 'Pod → 主机 → Pod 网络之外',
    'hop.pod-to-vtep': 'Pod → cni0 → VTEP（内核路由）', 'hop.vtep-to-wire': 'VTEP 把它封装进 UDP 中的 VXLAN 发出', 'hop.wire-to-host': '到达对端主机',
    'hop.vtep-decapsulates': '对端 VTEP 解开 VXLAN', 'hop.host-to-pod': '路由 → cni0 → Pod', 'hop.pod-replies': 'Pod 把回复发进 cni0',
    'hop.reply-to-wire': '回复发往发起端主机', 'hop.reply-wire-to-host': '回复到达（并被解封装）', 'hop.reply-to-pod': '→ cni0 → Pod：ping 收到回复',
    'hop.pod-to-wire': 'Pod → cni0 → 路由到底层网络（不封装）',
  },
} as const;

export const WATCH_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tun-driver lab</title>
<link rel="stylesheet" href="/uplot.css">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f6f7f9; }
  header { display: flex; align-items: baseline; gap: 16px; padding: 12px 24px; background: #1d2430; color: #fff; }
  header h1 { font-size: 18px; margin: 0; } header .sub { color: #b8c0cc; flex: 1; }
  header button { background: #334; color: #fff; border: 1px solid #667; border-radius: 4px; padding: 2px 10px; cursor: pointer; }
  main { padding: 8px 24px 32px; } h2 { font-size: 16px; margin: 18px 0 6px; }
  #map svg { background: #fff; border: 1px solid #d6dbe2; border-radius: 8px; max-width: 100%; height: auto; }
  .host rect { fill: #eaf6ee; stroke: #2a7; stroke-width: 1.5; } .host[data-state=down] rect { fill: #fbeaea; stroke: #c33; } .host[data-state=none] rect { fill: #f0f1f3; stroke: #99a; }
  .host text, .pod text { font-size: 12px; fill: #1d2430; } .host .name { font-weight: 600; font-size: 14px; } .host .state { fill: #2a7; } .host[data-state=down] .state { fill: #c33; font-weight: 600; } .host[data-state=none] .state { fill: #778; }
  .pod rect { fill: #fff; stroke: #8aa4c8; } .tun rect { fill: #fff4d6; stroke: #c9a23a; }
  .tunnel path.line { fill: none; stroke: #2a7; stroke-opacity: .75; } .tunnel[data-state=no-handshake] path.line { stroke: #e90; stroke-dasharray: 6 4; } .tunnel[data-state=down] path.line { stroke: #c33; stroke-dasharray: 3 5; }
  .tunnel path.hit { fill: none; stroke: transparent; stroke-width: 14; pointer-events: stroke; }
  .tunnel-label { font-size: 11px; fill: #345; paint-order: stroke; stroke: #fff; stroke-width: 4px; cursor: pointer; } .tunnel-label[data-state=down] { fill: #c33; } .tunnel-label[data-state=no-handshake] { fill: #b60; } .host, .tunnel { cursor: pointer; } .tunnel-label.selected { font-weight: 600; }
  .selected rect, .tunnel.selected path.line { stroke: #36c !important; stroke-width: 3 !important; }
  #charts .row { display: flex; flex-wrap: wrap; gap: 12px; } #chart-title { color: #345; } #no-drops { color: #5b6472; }
  #probe-form { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; } #probe-form select, #probe-form input { padding: 3px 6px; }
  .hops { display: flex; flex-wrap: wrap; gap: 6px; align-items: stretch; margin-top: 10px; }
  .hop { background: #fff; border: 2px solid #bbb; border-radius: 6px; padding: 6px 10px; max-width: 190px; font-size: 12px; }
  .hop[data-hop-status=passed] { border-color: #2a7; background: #eaf6ee; } .hop[data-hop-status=failed] { border-color: #c33; background: #fbeaea; } .hop[data-hop-status=not-reached] { color: #889; border-style: dashed; }
  .hop b { display: block; } .hop .via { color: #5b6472; } .arrow { align-self: center; color: #889; }
  .finding { background: #fff; border-left: 4px solid #c33; padding: 6px 10px; margin-top: 8px; } .finding code { background: #f0f1f3; padding: 1px 4px; }
  .err { color: #c33; }
</style></head>
<body>
<header><h1 data-i18n="title">tun-driver lab</h1><span class="sub" id="summary">…</span><button id="lang" type="button">中文</button></header>
<main>
<h2 data-i18n="map">Cluster map</h2>
<div id="map"></div>
<section id="charts"><h2><span data-i18n="charts">Rates</span> <span id="chart-title"></span></h2>
  <div id="chart-hint" data-i18n="pick">Click a host or a tunnel on the map to chart it.</div>
  <div class="row"><div id="chart-pps"></div><div id="chart-bps"></div><div id="chart-drops"></div></div><div id="no-drops"></div></section>
<section id="probe"><h2 data-i18n="probe">A packet's path</h2>
  <div id="probe-form"><span data-i18n="from">from</span> <select id="probe-from"></select> <span data-i18n="to">to</span>
    <input id="probe-to" list="probe-targets" size="16" placeholder="10.244.2.2"><datalist id="probe-targets"></datalist>
    <button id="probe-run" type="button" data-i18n="run">Probe</button></div>
  <div id="probe-result"></div></section>
</main>
<script src="/uplot.js"></script>
<script>
${CHART_SCRIPT}
const LABELS = ${JSON.stringify(PAGE_LABELS)};
let lang = new URLSearchParams(location.search).get('lang') || localStorage.getItem('tun-driver-lang') || 'en';
if (!LABELS[lang]) lang = 'en';
const t = (key) => LABELS[lang][key] || LABELS.en[key] || key;
const el = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
const bare = (cidr) => String(cidr).split('/')[0];
const state = { snapshot: null, selected: null, hist: { t: [], s: {} }, lastT: 0, probe: null, renderMs: [] };
window.watch = state;

function applyLabels() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  el('lang').textContent = lang === 'zh' ? 'English' : '中文';
}
el('lang').onclick = () => { lang = lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('tun-driver-lang', lang); applyLabels(); render(); renderProbe(); };

// The map: hosts in a row (or a grid past 6), pods under each, tunnels as arcs (row) or lines (grid).
const HW = 210, HH = 96, GAP = 60, PODH = 36;
function layout(nodes) {
  const cols = nodes.length <= 6 ? nodes.length : Math.ceil(Math.sqrt(nodes.length * 2));
  const maxPods = Math.max(0, ...nodes.map((n) => n.pods.length));
  const rowH = HH + 14 + maxPods * (PODH + 6) + 40;
  const arcRoom = nodes.length <= 6 ? 40 + 28 * Math.max(0, nodes.length - 1) : 20;
  const pos = new Map();
  nodes.forEach((n, i) => pos.set(n.name, { x: 20 + (i % cols) * (HW + GAP), y: arcRoom + Math.floor(i / cols) * rowH }));
  return { pos, width: 40 + cols * (HW + GAP) - GAP, height: arcRoom + Math.ceil(nodes.length / cols) * rowH, row: nodes.length <= 6 };
}
function hostSvg(n, p) {
  const d = n.daemons[0];
  const stateText = n.state === 'up' ? t('up') + (d ? ': ' + d.mode + (d.backend ? ' (' + esc(d.backend) + ')' : '') + ' pid ' + d.pid : '') : n.state === 'down' ? t('down') : t('none');
  let s = '<g class="host' + (state.selected === 'node:' + n.name ? ' selected' : '') + '" data-node="' + esc(n.name) + '" data-state="' + n.state + '"><title>' + esc(n.problem || n.netns) + '</title>' +
    '<rect x="' + p.x + '" y="' + p.y + '" width="' + HW + '" height="' + HH + '" rx="8"/>' +
    '<text class="name" x="' + (p.x + 10) + '" y="' + (p.y + 20) + '">' + esc(n.name) + '</text>' +
    '<text x="' + (p.x + 10) + '" y="' + (p.y + 38) + '">' + esc(n.addresses.map(bare).join(' ')) + '</text>' +
    '<text x="' + (p.x + 10) + '" y="' + (p.y + 55) + '">' + (n.subnet ? t('subnet') + ' ' + esc(n.subnet) + (n.subnet6 ? ' ' + esc(n.subnet6) : '') : '') + '</text>' +
    '<text class="state" x="' + (p.x + 10) + '" y="' + (p.y + 72) + '">' + esc(stateText) + '</text>';
  if (d) s += '<g class="tun"><rect x="' + (p.x + HW - 78) + '" y="' + (p.y + 6) + '" width="70" height="20" rx="4"/><text x="' + (p.x + HW - 72) + '" y="' + (p.y + 20) + '">' + esc(d.device) + '</text></g>' +
    '<text x="' + (p.x + 10) + '" y="' + (p.y + 89) + '">' + t('tx') + ' ' + fmt(d.tx.bps) + 'b/s · ' + t('rx') + ' ' + fmt(d.rx.bps) + 'b/s</text>';
  s += '</g>';
  n.pods.forEach((pod, j) => {
    const y = p.y + HH + 14 + j * (PODH + 6);
    s += '<g class="pod" data-pod="' + esc(pod.name) + '"><line x1="' + (p.x + 20) + '" y1="' + (y - 6) + '" x2="' + (p.x + 20) + '" y2="' + y + '" stroke="#8aa4c8"/>' +
      '<rect x="' + (p.x + 14) + '" y="' + y + '" width="' + (HW - 28) + '" height="' + PODH + '" rx="5"/>' +
      '<text x="' + (p.x + 22) + '" y="' + (y + 15) + '">' + esc(pod.name) + '</text><text x="' + (p.x + 22) + '" y="' + (y + 30) + '">' + esc(pod.addresses.map(bare).join(' ') || '–') + '</text></g>';
  });
  return s;
}
/** A tunnel's line (width by its rate, style by its state) and, separately, its label, drawn above every line. */
function tunnelSvg(tn, L) {
  const a = L.pos.get(tn.a), b = L.pos.get(tn.b);
  if (!a || !b) return { line: '', label: '' };
  const total = tn.aToB.bps + tn.bToA.bps;
  const width = 1.5 + Math.min(10, Math.log10(1 + total) * 1.1);
  let d, lx, ly;
  if (L.row) {
    const x1 = a.x + HW / 2, x2 = b.x + HW / 2, h = 20 + Math.abs(x2 - x1) / (HW + GAP) * 28;
    d = 'M' + x1 + ' ' + a.y + ' Q' + (x1 + x2) / 2 + ' ' + (a.y - 2 * h) + ' ' + x2 + ' ' + b.y; lx = (x1 + x2) / 2; ly = a.y - h + 4;
  } else {
    const x1 = a.x + HW / 2, y1 = a.y + HH / 2, x2 = b.x + HW / 2, y2 = b.y + HH / 2;
    d = 'M' + x1 + ' ' + y1 + ' L' + x2 + ' ' + y2; lx = (x1 + x2) / 2; ly = (y1 + y2) / 2;
  }
  const text = tn.state === 'ok' ? tn.a + '→ ' + fmt(tn.aToB.bps) + 'b/s · ← ' + fmt(tn.bToA.bps) + 'b/s' : tn.state === 'down' ? t('linkDown') : t('noHandshake');
  const attrs = ' data-tunnel="' + esc(tn.id) + '" data-state="' + tn.state + '"';
  const cls = 'tunnel' + (state.selected === 'tunnel:' + tn.id ? ' selected' : '');
  return {
    line: '<g class="' + cls + '"' + attrs + ' data-ab-bps="' + tn.aToB.bps + '" data-ba-bps="' + tn.bToA.bps + '"><title>' + esc(tn.a + ' ⇄ ' + tn.b + (tn.problem ? ': ' + tn.problem : '')) + '</title>' +
      '<path class="line" d="' + d + '" stroke-width="' + width.toFixed(1) + '"/><path class="hit" d="' + d + '"/></g>',
    label: L.row || total > 0 || tn.state !== 'ok' ? '<text class="tunnel-label"' + attrs + ' x="' + lx + '" y="' + ly + '" text-anchor="middle">' + esc(text) + '</text>' : '',
  };
}
function render() {
  const s = state.snapshot;
  if (!s) return;
  const started = performance.now();
  const L = layout(s.nodes);
  el('summary').textContent = s.lab + ' · ' + s.nodes.length + ' hosts · ' + s.nodes.reduce((n, x) => n + x.pods.length, 0) + ' ' + t('pods') + (s.etcd ? ' · ' + t('etcdLeases') + ' ' + (s.etcd.error ? '⚠ ' + s.etcd.error : s.etcd.leases) : '') + ' · ' + new Date(s.at).toLocaleTimeString();
  const tunnels = s.tunnels.map((tn) => tunnelSvg(tn, L));
  el('map').innerHTML = '<svg width="' + L.width + '" height="' + L.height + '" viewBox="0 0 ' + L.width + ' ' + L.height + '">' + tunnels.map((x) => x.line).join('') + s.nodes.map((n) => hostSvg(n, L.pos.get(n.name))).join('') + tunnels.map((x) => x.label).join('') + '</svg>';
  renderCharts();
  renderProbeChoices();
  state.renderMs.push(performance.now() - started);
  if (state.renderMs.length > 100) state.renderMs.shift();
}
el('map').addEventListener('click', (e) => {
  const g = e.target.closest('[data-node],[data-tunnel]');
  if (!g) return;
  state.selected = g.dataset.node ? 'node:' + g.dataset.node : 'tunnel:' + g.dataset.tunnel;
  render();
});

// Charts of the selected node or tunnel, from the history the server keeps (1 s, 10 minutes).
const charts = { pps: new TimeChart(el('chart-pps'), '', ' pkt/s'), bps: new TimeChart(el('chart-bps'), '', 'b/s'), drops: new TimeChart(el('chart-drops'), '', '/s') };
function column(key) { return state.hist.s[key] || state.hist.t.map(() => null); }
function renderCharts() {
  const sel = state.selected;
  el('chart-hint').style.display = sel ? 'none' : '';
  if (!sel) return;
  const [kind, name] = [sel.slice(0, sel.indexOf(':')), sel.slice(sel.indexOf(':') + 1)];
  const T = state.hist.t;
  charts.pps.title = t('pps'); charts.bps.title = t('bps'); charts.drops.title = t('drops');
  if (kind === 'node') {
    el('chart-title').textContent = '· ' + name;
    charts.pps.set(T, [{ label: t('tx'), values: column('node:' + name + ':tx.pps') }, { label: t('rx'), values: column('node:' + name + ':rx.pps') }]);
    charts.bps.set(T, [{ label: t('tx'), values: column('node:' + name + ':tx.bps') }, { label: t('rx'), values: column('node:' + name + ':rx.bps') }]);
    const prefix = 'node:' + name + ':drop:';
    const reasons = Object.keys(state.hist.s).filter((k) => k.startsWith(prefix)).sort();
    if (reasons.length) { charts.drops.set(T, reasons.map((k) => ({ label: k.slice(prefix.length), values: column(k) }))); el('no-drops').textContent = ''; }
    else { charts.drops.destroy(); el('no-drops').textContent = t('drops') + ': ' + t('noDrops'); }
  } else {
    const [a, b] = name.split('~');
    el('chart-title').textContent = '· ' + t('tunnel') + ' ' + a + ' ⇄ ' + b;
    charts.pps.set(T, [{ label: a + '→' + b, values: column('tunnel:' + name + ':ab.pps') }, { label: b + '→' + a, values: column('tunnel:' + name + ':ba.pps') }]);
    charts.bps.set(T, [{ label: a + '→' + b, values: column('tunnel:' + name + ':ab.bps') }, { label: b + '→' + a, values: column('tunnel:' + name + ':ba.bps') }]);
    charts.drops.destroy(); el('no-drops').textContent = '';
  }
}
function mergeHistory(w) {
  const h = state.hist, n = h.t.length;
  for (const key of Object.keys(w.series)) if (!h.s[key]) h.s[key] = new Array(n).fill(null);
  for (const key of Object.keys(h.s)) h.s[key].push(...(w.series[key] || w.t.map(() => null)));
  h.t.push(...w.t);
  const extra = h.t.length - 600;
  if (extra > 0) { h.t.splice(0, extra); for (const key of Object.keys(h.s)) h.s[key].splice(0, extra); }
  if (w.t.length) state.lastT = w.t[w.t.length - 1];
}

// The probe: sources are pods with an address and hosts with a relay; targets are every address in the lab.
function renderProbeChoices() {
  const s = state.snapshot, from = el('probe-from');
  const sources = [];
  for (const n of s.nodes) {
    if (n.daemons.some((d) => d.mode === 'relay')) sources.push(n.name);
    for (const p of n.pods) if (p.addresses.length) sources.push(p.name);
  }
  const key = sources.join('|');
  if (from.dataset.key !== key) {
    const keep = from.value;
    from.innerHTML = sources.map((x) => '<option>' + esc(x) + '</option>').join('');
    if (sources.includes(keep)) from.value = keep;
    from.dataset.key = key;
    el('probe-targets').innerHTML = s.nodes.flatMap((n) => [...n.addresses, ...n.pods.flatMap((p) => p.addresses)]).map((a) => '<option value="' + esc(bare(a)) + '">').join('');
  }
}
function renderProbe() {
  const r = state.probe, out = el('probe-result');
  if (!r) { out.innerHTML = ''; return; }
  if (r.running) { out.textContent = t('running'); return; }
  if (r.error) { out.innerHTML = '<div class="err">' + esc(r.error) + '</div>'; return; }
  let html = '<div><code>' + esc(r.from) + '$ ' + esc(r.command) + '</code> · <b id="probe-verdict" data-delivered="' + r.delivered + '">' + (r.delivered ? t('delivered') : t('notDelivered')) + '</b>' + (r.stoppedBecause ? ' (' + esc(r.stoppedBecause) + ')' : '') + '</div><div class="hops">';
  html += r.hops.map((h, i) => (i ? '<span class="arrow">→</span>' : '') + '<div class="hop" data-hop="' + esc(h.step) + '" data-hop-status="' + h.status + '"><b>' + esc(t('hop.' + h.step)) + '</b><span class="via">' + esc(h.via.join(' → ')) + '</span><br>' + esc(h.host) + ' · ' + t(h.status) + (h.atMs !== undefined ? ' · +' + h.atMs + ' ms' : '') + '</div>').join('');
  html += '</div>';
  if (r.doctor) html += '<div id="probe-doctor"><h3>' + t('doctor') + ' ' + esc(r.doctor.host) + '</h3>' + r.doctor.findings.map((f) => '<div class="finding"><b>' + esc(f.check) + '</b>: ' + esc(f.evidence) + (f.fix ? '<br>' + t('fix') + ': <code>' + esc(f.fix) + '</code>' : '') + '</div>').join('') + '</div>';
  out.innerHTML = html;
}
el('probe-run').onclick = async () => {
  state.probe = { running: true }; renderProbe();
  try {
    const res = await fetch('/probe', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: el('probe-from').value, to: el('probe-to').value.trim() }) });
    const body = await res.json();
    state.probe = res.ok ? body : { error: body.error || res.statusText };
  } catch (e) { state.probe = { error: String(e) }; }
  renderProbe();
};

async function tick() {
  try {
    const [c, h] = await Promise.all([fetch('/cluster.json'), fetch('/history.json?since=' + state.lastT)]);
    if (!c.ok) throw new Error((await c.json()).error);
    state.snapshot = await c.json();
    mergeHistory(await h.json());
    render();
  } catch (e) { el('summary').innerHTML = '<span class="err">' + esc(t('stale') + ': ' + e.message) + '</span>'; }
}
applyLabels(); tick(); setInterval(tick, 1000);
</script></body></html>
`;
