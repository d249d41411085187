// netlab web: the labs' topology, live from their events, with consoles,
// shells, links, impairments, captures and restarts. Plain JavaScript: the
// server is `netlab web` (src/cli/cmd-web.c); every call carries its token.
'use strict';

const token = document.querySelector('meta[name="netlab-token"]').content;
const SVGNS = 'http://www.w3.org/2000/svg';
const labs = new Map(); // lab dir -> {topo, nodes: Map, ifaces: Map, captures: Map, svg}
let selected = null; // {lab, node}
let term = null, termSocket = null, fit = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'onclick') e.addEventListener('click', v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

async function post(path, body) {
  const r = await fetch(path, {
    method: 'POST',
    headers: {'Content-Type': 'application/json', 'X-Netlab-Token': token},
    body: JSON.stringify(body),
  });
  const j = await r.json().catch(() => ({error: r.statusText}));
  if (!r.ok) logLine(`error: ${j.error || j.output || r.status}`, true);
  return j;
}

function labState(dir) {
  if (!labs.has(dir))
    labs.set(dir, {topo: null, nodes: new Map(), ifaces: new Map(), captures: new Map()});
  return labs.get(dir);
}

// ---- the topology ----

function layout(topo) {
  const W = 900, H = Math.max(360, 140 + 28 * topo.nodes.length), cx = W / 2, cy = H / 2;
  const R = Math.min(W, H) / 2 - 50, pos = new Map();
  topo.nodes.forEach((n, i) => {
    const a = (2 * Math.PI * i) / topo.nodes.length - Math.PI / 2;
    pos.set('node:' + n.name, {x: cx + 1.6 * R * Math.cos(a), y: cy + R * Math.sin(a)});
  });
  topo.lans.forEach((lan, i) => {
    const members = topo.nodes.filter((n) => n.interfaces.some((f) => f.lan === lan));
    let x = cx, y = cy;
    if (members.length) {
      x = members.reduce((s, n) => s + pos.get('node:' + n.name).x, 0) / members.length;
      y = members.reduce((s, n) => s + pos.get('node:' + n.name).y, 0) / members.length;
    }
    // LANs with the same centre move apart.
    const a = (2 * Math.PI * i) / Math.max(1, topo.lans.length);
    if (members.length !== 1) {
      x += 40 * Math.cos(a) * (topo.lans.length > 1);
      y += 40 * Math.sin(a) * (topo.lans.length > 1);
    } else {
      x = cx + (x - cx) * 0.55;
      y = cy + (y - cy) * 0.55;
    }
    pos.set('lan:' + lan, {x, y});
  });
  return {W, H, pos};
}

function drawLab(dir) {
  const L = labState(dir), topo = L.topo;
  let box = document.getElementById('lab-' + dir);
  if (!box) {
    box = el('div', {class: 'lab', id: 'lab-' + dir});
    document.getElementById('labs').append(box);
  }
  box.textContent = '';
  box.append(el('h2', {}, `${topo.name} `, el('small', {}, dir)));
  const {W, H, pos} = layout(topo);
  const s = svg('svg', {viewBox: `0 0 ${W} ${H}`, 'data-lab': dir});
  for (const n of topo.nodes)
    for (const f of n.interfaces) {
      const a = pos.get('node:' + n.name), b = pos.get('lan:' + f.lan);
      const id = `${n.name}:${f.name}`;
      const g = svg('g', {class: 'iface', 'data-testid': 'iface-' + id, 'data-iface': id});
      g.append(svg('line', {x1: a.x, y1: a.y, x2: b.x, y2: b.y}));
      const t = svg('text', {x: a.x + (b.x - a.x) * 0.35, y: a.y + (b.y - a.y) * 0.35 - 4});
      t.textContent = [f.name, ...(f.addresses || [])].join(' ');
      g.append(t);
      g.addEventListener('click', () => select(dir, n.name));
      s.append(g);
    }
  // lab.ext: the host interface a LAN is joined to, a dashed box beyond it.
  (topo.external || []).forEach((x, i) => {
    const p = pos.get('lan:' + x.lan);
    if (!p) return;
    const dx = p.x - W / 2, dy = p.y - H / 2, d = Math.hypot(dx, dy) || 1;
    const q = {x: p.x + (80 * dx) / d, y: p.y + (60 * dy) / d + (d < 1.5 ? 60 + 30 * i : 0)};
    const g = svg('g', {class: 'ext', 'data-testid': 'ext-' + x.interface});
    g.append(svg('line', {x1: p.x, y1: p.y, x2: q.x, y2: q.y}));
    g.append(svg('rect', {x: q.x - 50, y: q.y - 12, width: 100, height: 24}));
    const t = svg('text', {x: q.x, y: q.y + 4});
    t.textContent = 'host: ' + x.interface;
    g.append(t);
    s.append(g);
  });
  for (const lan of topo.lans) {
    const p = pos.get('lan:' + lan);
    const g = svg('g', {class: 'lan', 'data-testid': 'lan-' + lan});
    g.append(svg('ellipse', {cx: p.x, cy: p.y, rx: 30, ry: 16}));
    const t = svg('text', {x: p.x, y: p.y + 4});
    t.textContent = lan;
    g.append(t);
    s.append(g);
  }
  for (const n of topo.nodes) {
    const p = pos.get('node:' + n.name);
    const g = svg('g', {class: 'node', 'data-testid': 'node-' + n.name, 'data-node': n.name});
    g.append(svg('rect', {x: p.x - 45, y: p.y - 20, width: 90, height: 40}));
    const t = svg('text', {x: p.x, y: p.y - 2});
    t.textContent = n.name;
    const st = svg('text', {x: p.x, y: p.y + 13, class: 'st'});
    g.append(t, st);
    g.addEventListener('click', () => select(dir, n.name));
    s.append(g);
  }
  box.append(s);
  L.svg = s;
  refresh(dir);
}

// Applies the lab's state to its picture and to the panel.
function refresh(dir) {
  const L = labs.get(dir);
  if (!L || !L.svg) return;
  for (const g of L.svg.querySelectorAll('.node')) {
    const n = L.nodes.get(g.dataset.node) || {state: 'unknown'};
    g.setAttribute('class', `node state-${n.state}` +
      (selected && selected.lab === dir && selected.node === g.dataset.node ? ' selected' : ''));
    g.setAttribute('data-state', n.state);
    g.querySelector('.st').textContent = n.state;
  }
  for (const g of L.svg.querySelectorAll('.iface')) {
    const f = L.ifaces.get(g.dataset.iface) || {link: 'up', impairment: ''};
    g.setAttribute('class', `iface link-${f.link}` + (f.impairment ? ' impaired' : ''));
    g.setAttribute('data-state', f.link);
  }
  if (selected && selected.lab === dir) drawPanel();
}

async function loadTopology() {
  const r = await fetch('/api/labs', {headers: {'X-Netlab-Token': token}});
  if (!r.ok) return;
  for (const topo of await r.json()) {
    labState(topo.lab).topo = topo;
    drawLab(topo.lab);
  }
}

// ---- the panel of a node ----

function select(dir, node) {
  selected = {lab: dir, node};
  refresh(dir);
}

function drawPanel() {
  const panel = document.getElementById('panel');
  const {lab, node} = selected;
  const L = labs.get(lab), topo = L.topo;
  const n = topo.nodes.find((x) => x.name === node);
  const st = L.nodes.get(node) || {state: 'unknown'};
  panel.textContent = '';
  panel.append(el('h3', {'data-testid': 'panel-title'}, node),
    el('p', {}, 'state: ', el('b', {'data-testid': 'panel-state'}, st.state),
      st.why ? ` (${st.why})` : ''));
  panel.append(el('div', {},
    el('button', {type: 'button', 'data-testid': 'btn-console', onclick: () => openTerm('console', lab, node)}, 'console'),
    el('button', {type: 'button', 'data-testid': 'btn-shell', onclick: () => openTerm('shell', lab, node)}, 'shell'),
    el('button', {type: 'button', 'data-testid': 'btn-restart', onclick: () => {
      if (confirm(`Boot ${node} again, clean?`)) post('/api/restart', {lab, node});
    }}, 'restart'),
    el('button', {type: 'button', 'data-testid': 'btn-files', onclick: () => openFiles(lab, node, '/')}, 'files'),
    el('button', {type: 'button', 'data-testid': 'btn-gdb', onclick: () => {
      document.getElementById('gdbhelp').hidden = false;
    }}, 'gdb')));
  const gdb = el('pre', {id: 'gdbhelp', hidden: ''},
    `# the kernel of ${node} under gdb (the VM halts while gdb holds it):\n` +
    `netlab gdb -d ${lab} ${node}\n# or gdbserver on its second serial port:\n` +
    `netlab gdb -d ${lab} --serial ${node} PID`);
  panel.append(gdb);
  const table = el('table', {}, el('tr', {}, el('th', {}, 'if'), el('th', {}, 'LAN'), el('th', {}, 'link')));
  for (const f of n.interfaces) {
    const id = `${node}:${f.name}`;
    const s = L.ifaces.get(id) || {link: 'up', impairment: ''};
    const cap = L.captures.get(id);
    const spec = el('input', {placeholder: 'delay=50ms loss=1%', 'data-testid': 'spec-' + id, value: s.impairment || ''});
    table.append(el('tr', {},
      el('td', {}, f.name, el('br', {}), el('small', {}, (f.addresses || []).join(' '))),
      el('td', {}, f.lan),
      el('td', {},
        el('span', {class: s.link, 'data-testid': 'link-' + id}, s.link), ' ',
        el('button', {type: 'button', 'data-testid': `btn-down-${id}`, onclick: () => post('/api/link', {lab, interface: id, action: 'down'})}, 'down'),
        el('button', {type: 'button', 'data-testid': `btn-up-${id}`, onclick: () => post('/api/link', {lab, interface: id, action: 'up'})}, 'up'),
        el('br', {}), spec,
        el('button', {type: 'button', onclick: () => post('/api/link', {lab, interface: id, action: 'set', spec: spec.value})}, 'set'),
        el('button', {type: 'button', onclick: () => post('/api/link', {lab, interface: id, action: 'reset'})}, 'reset'),
        el('br', {}),
        cap && !cap.url
          ? el('button', {type: 'button', 'data-testid': `btn-stopcap-${id}`, onclick: () => stopCapture(lab, id)}, 'stop capture')
          : el('button', {type: 'button', 'data-testid': `btn-capture-${id}`, onclick: () => startCapture(lab, id)}, 'capture'),
        cap && cap.url ? el('a', {href: cap.url, download: '', 'data-testid': `dl-${id}`}, 'download pcap') : '')));
  }
  panel.append(table);
}

async function startCapture(lab, target) {
  const j = await post('/api/capture/start', {lab, target});
  if (j.id) labs.get(lab).captures.set(target, {id: j.id});
  refresh(lab);
}

async function stopCapture(lab, target) {
  const cap = labs.get(lab).captures.get(target);
  const j = await post('/api/capture/stop', {id: cap.id});
  if (j.url) cap.url = j.url;
  refresh(lab);
}

// ---- terminals ----

function wsURL(path, params) {
  const q = new URLSearchParams({...params, token});
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}?${q}`;
}

function closeTerm() {
  if (termSocket) termSocket.close();
  termSocket = null;
  if (term) term.dispose();
  term = null;
  document.getElementById('termbox').hidden = true;
}

function openTerm(kind, lab, node) {
  closeTerm();
  const box = document.getElementById('termbox');
  box.hidden = false;
  document.getElementById('termtitle').textContent = `${kind} of ${node}`;
  term = new Terminal({convertEol: false, fontSize: 13, scrollback: 5000});
  fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(document.getElementById('term'));
  fit.fit();
  const ws = new WebSocket(wsURL('/ws/' + kind, {lab, node}));
  ws.binaryType = 'arraybuffer';
  let first = true;
  ws.onmessage = (e) => {
    const data = typeof e.data === 'string' ? e.data : new Uint8Array(e.data);
    // The server's first words say when another client holds the console.
    if (first && /read-only/.test(typeof data === 'string' ? data : new TextDecoder().decode(data)))
      document.getElementById('termtitle').textContent += ' (read-only)';
    first = false;
    term.write(data);
  };
  ws.onclose = (e) => term && term.write(`\r\n[closed${e.reason ? ': ' + e.reason : ''}]\r\n`);
  term.onData((d) => ws.readyState === WebSocket.OPEN && ws.send(d));
  termSocket = ws;
  term.focus();
}

document.getElementById('termclose').addEventListener('click', closeTerm);

// ---- a node's files ----
// Read through `netlab ls --json` and `netlab cat` on the server, running or
// stopped node alike; a view shows at most the server's bound (1 MiB).

let files = null; // {lab, node, path}

function filesURL(kind, lab, node, path) {
  return `/api/files/${kind}?` + new URLSearchParams({lab, node, path});
}

function joinPath(dir, name) {
  return (dir.endsWith('/') ? dir : dir + '/') + name;
}

function parentPath(path) {
  const p = path.replace(/\/+$/, '').replace(/\/[^/]*$/, '');
  return p || '/';
}

function humanSize(n) {
  if (n < 1024) return `${n}`;
  const units = ['K', 'M', 'G', 'T'];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)}${units[i]}`;
}

async function getJSON(url) {
  const r = await fetch(url, {headers: {'X-Netlab-Token': token}});
  const j = await r.json().catch(() => ({error: r.statusText || `status ${r.status}`}));
  if (!r.ok && !j.error) j.error = `status ${r.status}`;
  return j;
}

function closeFiles() {
  files = null;
  document.getElementById('filebox').hidden = true;
}

// Lists PATH of NODE; a path that is no directory (a link to a file, say)
// is viewed instead.
async function openFiles(lab, node, path) {
  files = {lab, node, path};
  const box = document.getElementById('filebox');
  box.hidden = false;
  document.getElementById('fileview').hidden = true;
  document.getElementById('filetitle').textContent = `files of ${node}: ${path}`;
  document.getElementById('filetitle').dataset.path = path;
  const list = document.getElementById('filelist');
  list.textContent = 'loading…';
  const j = await getJSON(filesURL('ls', lab, node, path));
  if (!files || files.lab !== lab || files.node !== node || files.path !== path) return;
  list.textContent = '';
  if (j.error) {
    list.append(el('p', {class: 'error', 'data-testid': 'files-error'}, j.error));
    return;
  }
  if (j.type !== 'd') {
    await openFiles(lab, node, parentPath(path));
    return viewFile(lab, node, path);
  }
  const table = el('table', {'data-testid': 'files-table'},
    el('tr', {}, el('th', {}, 'name'), el('th', {}, 'type'), el('th', {}, 'size'), el('th', {}, '')));
  if (path !== '/')
    table.append(el('tr', {}, el('td', {}, el('a', {href: '#', 'data-testid': 'files-up', onclick: (e) => {
      e.preventDefault();
      openFiles(lab, node, parentPath(path));
    }}, '..')), el('td', {}, 'd'), el('td', {}), el('td', {})));
  for (const f of j.entries) {
    const full = joinPath(path, f.name);
    const open = f.name_exact === false ? null : f.type === 'd' || f.type === 'l'
      ? () => openFiles(lab, node, full) : f.type === 'f' ? () => viewFile(lab, node, full) : null;
    const name = open
      ? el('a', {href: '#', 'data-testid': 'file-' + f.name, onclick: (e) => { e.preventDefault(); open(); }},
        f.name + (f.type === 'd' ? '/' : ''))
      : el('span', {'data-testid': 'file-' + f.name}, f.name);
    table.append(el('tr', {'data-type': f.type},
      el('td', {}, name), el('td', {}, f.type), el('td', {}, f.type === 'f' ? humanSize(f.size) : ''),
      el('td', {}, f.type === 'f' && f.name_exact !== false
        ? el('a', {href: filesURL('get', lab, node, full), download: f.name, 'data-testid': 'dl-file-' + f.name}, 'download')
        : '')));
  }
  list.append(table);
  if (j.truncated)
    list.append(el('p', {class: 'hint', 'data-testid': 'files-truncated'},
      `truncated: the first ${j.entries.length} entries`));
}

async function viewFile(lab, node, path) {
  const view = document.getElementById('fileview');
  view.hidden = false;
  view.textContent = '';
  const name = path.replace(/.*\//, '') || 'file';
  view.append(el('div', {class: 'termbar'},
    el('span', {'data-testid': 'file-view-title'}, `${node}:${path}`),
    el('span', {}, el('a', {href: filesURL('get', lab, node, path), download: name, 'data-testid': 'file-download'}, 'download'),
      ' ', el('button', {type: 'button', onclick: () => { view.hidden = true; }}, 'close'))));
  const j = await getJSON(filesURL('view', lab, node, path));
  if (j.error) {
    view.append(el('p', {class: 'error', 'data-testid': 'file-note'}, j.error));
  } else if (j.binary) {
    view.append(el('p', {'data-testid': 'file-note'}, 'binary: download it to see it'));
  } else {
    if (j.truncated)
      view.append(el('p', {class: 'hint', 'data-testid': 'file-note'},
        `truncated: the first ${humanSize(j.shown)} bytes are shown; download it for the rest`));
    view.append(el('pre', {'data-testid': 'file-view'}, j.text));
  }
}

document.getElementById('fileclose').addEventListener('click', closeFiles);

// ---- events ----

function logLine(text, error) {
  const log = document.getElementById('log');
  log.prepend(el('li', {class: error ? 'event error' : 'event'}, text));
  while (log.children.length > 200) log.lastChild.remove();
}

function eventText(e) {
  const t = new Date(e.time * 1000).toLocaleTimeString();
  const what = [e.node && e.interface ? `${e.node}:${e.interface}` : e.node, e.target, e.state,
    e.type === 'impairment' ? e.impairment || 'unimpaired' : null, e.client].filter(Boolean);
  return `${t} ${e.lab.split('/').pop()} ${e.type} ${what.join(' ')}${e.why ? ` (${e.why})` : ''}`;
}

function onEvent(e) {
  if (e.type === 'topology') return loadTopology();
  const L = labState(e.lab);
  if (e.type === 'node') {
    const state = e.state === 'thawed' || e.state === 'ready' ? 'running' : e.state;
    L.nodes.set(e.node, {state, why: e.why});
  } else if (e.type === 'link') {
    const id = `${e.node}:${e.interface}`;
    L.ifaces.set(id, {...(L.ifaces.get(id) || {impairment: ''}), link: e.state});
  } else if (e.type === 'impairment') {
    const id = `${e.node}:${e.interface}`;
    L.ifaces.set(id, {...(L.ifaces.get(id) || {link: 'up'}), impairment: e.impairment});
  } else if (e.type === 'lab' && e.state === 'up') {
    loadTopology();
  } else if (e.type === 'lab' && e.state === 'down') {
    for (const n of L.nodes.values()) n.state = 'stopped';
  }
  if (e.time) logLine(eventText(e));
  refresh(e.lab);
}

function connectEvents() {
  const conn = document.getElementById('conn');
  const ws = new WebSocket(wsURL('/ws/events', {}));
  ws.onopen = () => { conn.textContent = 'live'; conn.className = 'conn live'; };
  ws.onmessage = (m) => onEvent(JSON.parse(m.data));
  ws.onclose = () => {
    conn.textContent = 'disconnected: retrying';
    conn.className = 'conn dead';
    setTimeout(connectEvents, 1000);
  };
}

loadTopology().then(connectEvents);
