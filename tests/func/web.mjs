// netlab web in headless Chromium (Debian's, driven by playwright-core from
// the npm packages scripts/setup installs in web). Called by web.sh
// with the server's URL, the lab, netlab and a directory for screenshots;
// prints "PASS what" or "FAIL what" per check, "# ..." for measurements.
import {createRequire} from 'node:module';
import {execFileSync, spawn} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';

const [url, lab, netlab, artifacts, mode] = process.argv.slice(2);
const require = createRequire(process.env.NETLAB_SRC + '/web/');
const {chromium} = require('playwright-core');
const base = url.replace(/\/\?token=.*/, '');

let failed = 0;
function check(cond, what) {
  console.log(`${cond ? 'PASS' : 'FAIL'} ${what}`);
  if (!cond) failed++;
}
async function shot(page, name) {
  await page.screenshot({path: `${artifacts}/${name}.png`, fullPage: true});
}
function ping() {
  try {
    execFileSync(netlab, ['exec', '-d', lab, 'r1', '--', 'ping', '-c', '1', '-W', '2', '10.0.0.2'], {stdio: 'ignore'});
    return true;
  } catch {
    return false;
  }
}
function pingSoon(want, tries) {
  for (let i = 0; i < tries; i++) if (ping() === want) return true;
  return false;
}
async function waitState(page, testid, state, ms) {
  const t0 = Date.now();
  try {
    await page.waitForSelector(`[data-testid="${testid}"][data-state="${state}"]`, {timeout: ms});
    return Date.now() - t0;
  } catch {
    return -1;
  }
}

// Never hang the test: a check that waits too long fails it.
setTimeout(() => {
  console.log('FAIL the browser run ended in time');
  process.exit(1);
}, 400000).unref();

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  if (mode === 'measure') {
    // Page load and first paint, and until every node shows its state.
    const loads = [], paints = [], drawn = [];
    for (let i = 0; i < 7; i++) {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      const t0 = Date.now();
      await page.goto(url, {waitUntil: 'load'});
      loads.push(Date.now() - t0);
      await page.waitForFunction(() => {
        const n = document.querySelectorAll('.node');
        return n.length && [...n].every((g) => g.dataset.state && g.dataset.state !== 'unknown');
      });
      drawn.push(Date.now() - t0);
      paints.push(await page.evaluate(() =>
        performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')?.startTime ?? -1));
      if (i === 0) await shot(page, 'measure');
      await ctx.close();
    }
    const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
    console.log(`# load ${med(loads)} ms, first contentful paint ${med(paints).toFixed(0)} ms, ` +
      `every node drawn with its state ${med(drawn)} ms (medians of ${loads.length})`);
    process.exit(0);
  }

  if (mode === 'kills') {
    // From a QEMU's SIGKILL to its node shown stopped, for up to 5 nodes
    // other than the first.
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('.node[data-state="running"]');
    const vms = JSON.parse(execFileSync(netlab, ['status', '--json', lab])).vms.filter((v) => v.pid);
    for (const vm of vms.slice(1, 6)) {
      const t0 = Date.now();
      process.kill(vm.pid, 'SIGKILL');
      await page.waitForSelector(`[data-testid="node-${vm.name}"][data-state="stopped"]`, {timeout: 10000});
      console.log(`# kill ${Date.now() - t0} ms ${vm.name}`);
    }
    process.exit(0);
  }

  // Refused without the token, or with a wrong one.
  const bare = await fetch(base + '/');
  check(bare.status === 403, 'the page is refused without a token');
  const wrong = await fetch(base + '/?token=0123456789abcdef0123456789abcdef0123456789abcdef');
  check(wrong.status === 403, 'the page is refused with a wrong token');
  const ctx0 = await browser.newContext();
  const p0 = await ctx0.newPage();
  const r0 = await p0.goto(base + '/?token=wrong');
  check(r0.status() === 403, 'the browser gets 403 with a wrong token');
  const wsOpened = await p0.evaluate((b) => new Promise((res) => {
    const ws = new WebSocket(b.replace('http', 'ws') + '/ws/events');
    ws.onopen = () => res(true);
    ws.onerror = () => res(false);
  }), base);
  check(!wsOpened, 'the event WebSocket is refused without the token');
  await ctx0.close();

  const ctx = await browser.newContext({acceptDownloads: true, viewport: {width: 1280, height: 900}});
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  let drawn = true;
  for (const id of ['node-r1', 'node-r2', 'lan-A'])
    drawn = drawn && (await page.waitForSelector(`[data-testid="${id}"]`, {timeout: 10000}).then(() => true, () => false));
  check(drawn, 'the page shows r1, r2 and LAN A');
  check(await waitState(page, 'node-r1', 'running', 10000) >= 0, 'r1 shows as running');
  await page.waitForTimeout(1500); // the addresses, from `netlab graph`
  await shot(page, 'topology');

  // r1's console: `echo hi` answers `hi`.
  await page.click('[data-testid="node-r1"]');
  await page.click('[data-testid="btn-console"]');
  await page.waitForSelector('.xterm-rows');
  await page.click('#term');
  await page.waitForTimeout(500);
  await page.keyboard.type('echo hi');
  await page.keyboard.press('Enter');
  const hi = await page.waitForFunction(() =>
    /^hi\s*$/m.test(document.querySelector('.xterm-rows').innerText), null, {timeout: 20000}).then(() => true, () => false);
  check(hi, "typing `echo hi` in r1's console shows `hi` from the VM");
  await shot(page, 'console');
  await page.click('#termclose');

  // Held by another client, the console is shown read-only, from its log.
  // (It may find the page's own console still letting go: it tries again.)
  let holder = null;
  for (let i = 0; i < 10 && !holder; i++) {
    const h = spawn(netlab, ['console', '-d', lab, 'r1'], {stdio: ['pipe', 'ignore', 'ignore']});
    const exited = await new Promise((r) => {
      h.on('exit', () => r(true));
      setTimeout(() => r(false), 1500);
    });
    if (!exited) holder = h;
  }
  await page.click('[data-testid="btn-console"]');
  const ro = await page.waitForFunction(() =>
    /read-only/.test(document.getElementById('termtitle').textContent), null, {timeout: 10000}).then(() => true, () => false);
  check(ro, 'a console another client holds is shown read-only');
  await shot(page, 'console-read-only');
  await page.click('#termclose');
  if (holder) {
    const gone = new Promise((r) => holder.on('exit', r));
    holder.stdin.end();
    await gone;
  }

  // A shell in r1 (netlab exec -t), in the same terminal.
  await page.click('[data-testid="btn-shell"]');
  await page.waitForSelector('.xterm-rows');
  await page.click('#term');
  await page.waitForTimeout(1500);
  await page.keyboard.type('echo sh-$((6*7))');
  await page.keyboard.press('Enter');
  const sh = await page.waitForFunction(() =>
    /^sh-42\s*$/m.test(document.querySelector('.xterm-rows').innerText), null, {timeout: 20000}).then(() => true, () => false);
  check(sh, 'a shell in r1 runs what is typed');
  await shot(page, 'shell');
  await page.click('#termclose');

  // The link: down cuts r1 from r2, up restores it; the page shows both.
  check(pingSoon(true, 3), 'r1 pings r2');
  await page.click('[data-testid="btn-down-r1:eth0"]');
  const downMs = await waitState(page, 'iface-r1:eth0', 'down', 5000);
  check(downMs >= 0, `the page shows r1:eth0 down (${downMs} ms after the click)`);
  check(!ping(), "with the link down r1's ping to r2 fails");
  await shot(page, 'link-down');
  await page.click('[data-testid="btn-up-r1:eth0"]');
  const upMs = await waitState(page, 'iface-r1:eth0', 'up', 5000);
  check(upMs >= 0, `the page shows r1:eth0 up again (${upMs} ms after the click)`);
  check(pingSoon(true, 3), 'with the link up the ping works again');

  // A capture from the page, downloaded as pcap.
  await page.click('[data-testid="btn-capture-r1:eth0"]');
  const started = await page.waitForFunction(() =>
    [...document.querySelectorAll('#log li')].some((li) => / capture r1:eth0 started/.test(li.textContent)),
  null, {timeout: 30000}).then(() => true, () => false);
  check(started, 'the capture started (its event is on the page)');
  for (let i = 0; i < 3; i++) ping();
  await page.click('[data-testid="btn-stopcap-r1:eth0"]');
  const link = await page.waitForSelector('[data-testid="dl-r1:eth0"]', {timeout: 20000}).then(() => true, () => false);
  check(link, 'the stopped capture offers its pcap');
  if (link) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="dl-r1:eth0"]')]);
    await download.saveAs(`${artifacts}/capture.pcap`);
  }
  await shot(page, 'capture');

  // r1's files: / then /etc, /etc/hostname viewed; a file larger than the
  // view is said truncated and downloads whole; a link or `..` that climbs
  // out of the node's root stays in it (the host's /etc/hostname is not r1).
  const until = (fn, arg) => page.waitForFunction(fn, arg, {timeout: 30000}).then(() => true, () => false);
  const atPath = (p) => until((want) => document.getElementById('filetitle').dataset.path === want &&
    document.getElementById('filelist').querySelector('table'), p);
  const viewed = (text) => until((want) => document.querySelector('[data-testid="file-view"]')?.textContent === want, text);
  await page.click('[data-testid="node-r1"]');
  await page.click('[data-testid="btn-files"]');
  check(await atPath('/') && await page.$('[data-testid="file-etc"]') !== null, "the file browser lists r1's /");
  await page.click('[data-testid="file-etc"]');
  check(await atPath('/etc') && await page.$('[data-testid="file-hostname"]') !== null, "a click on etc lists r1's /etc");
  await page.click('[data-testid="file-hostname"]');
  check(await viewed('r1\n'), "/etc/hostname shows r1's name");
  await shot(page, 'files');
  await page.click('[data-testid="files-up"]');
  check(await atPath('/'), 'up goes back to /');
  await page.click('[data-testid="file-etc"]');
  await atPath('/etc');
  await page.click('[data-testid="file-webfiles"]');
  check(await atPath('/etc/webfiles'), 'the browser goes down to /etc/webfiles');
  await page.click('[data-testid="file-big.txt"]');
  const cut = await until(() => /truncated: the first 1\.0M bytes/.test(
    document.querySelector('[data-testid="file-note"]')?.textContent || ''));
  const shown = await page.evaluate(() => document.querySelector('[data-testid="file-view"]')?.textContent.length);
  check(cut && shown === 1 << 20, `a 2.5 MB file is shown truncated (${shown} bytes shown)`);
  await shot(page, 'file-truncated');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="file-download"]')]);
  await dl.saveAs(`${artifacts}/big.txt`);
  const got = readFileSync(`${artifacts}/big.txt`);
  const want = execFileSync(netlab, ['cat', '-d', lab, 'r1:/etc/webfiles/big.txt'], {maxBuffer: 64 << 20});
  check(got.equals(want), `the download is the file, byte for byte (${got.length} bytes of ${want.length})`);
  await page.click('[data-testid="file-climb"]');
  check(await viewed('r1\n'), "a relative link that climbs past / shows r1's /etc/hostname");
  await page.click('[data-testid="file-abs"]');
  check(await viewed('r1\n'), "an absolute link to /etc/hostname shows r1's");
  const dots = await page.evaluate(async (l) => (await fetch('/api/files/view?' +
    new URLSearchParams({lab: l, node: 'r1', path: '/etc/webfiles/../../../../etc/hostname'}))).json(), lab);
  check(dots.text === 'r1\n', `a path with .. stays in r1 (${JSON.stringify(dots).slice(0, 80)})`);
  await page.click('#fileclose');

  // A QEMU killed: the page shows the node stopped, and how fast.
  const status = JSON.parse(execFileSync(netlab, ['status', '--json', lab]));
  const pid = status.vms.find((v) => v.name === 'r2').pid;
  const t0 = Date.now();
  process.kill(pid, 'SIGKILL');
  const killMs = await waitState(page, 'node-r2', 'stopped', 5000);
  check(killMs >= 0 && killMs < 1000, `the page shows r2 stopped ${killMs} ms after its QEMU was killed`);
  writeFileSync(`${artifacts}/kill-ms`, `${Date.now() - t0}\n`);
  await page.click('[data-testid="node-r2"]');
  await shot(page, 'stopped');
  check(errors.length === 0, `no script errors on the page${errors.length ? ': ' + errors.join('; ') : ''}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
