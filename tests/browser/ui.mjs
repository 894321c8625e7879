// Drives the embedded web UI in headless Chromium for the Rust test
// `browser.rs`, which owns the daemon and the CLI. The two talk in lines:
// this script prints a request ("READY", "STOP_DAEMON", …) on stdout and
// waits for the test's answer on stdin. Any failure exits non-zero with a
// message; screenshots go to $THRUM_SHOTS.
//
// Env: THRUM_URL (http://127.0.0.1:PORT/), THRUM_SHOTS (a directory),
// CHROMIUM (default /usr/bin/chromium).

import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";

const url = process.env.THRUM_URL;
const shots = process.env.THRUM_SHOTS;
mkdirSync(shots, { recursive: true });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(request) {
  console.log(request);
  const { value, done } = await lines.next();
  if (done) throw new Error(`the test closed stdin while we waited for an answer to ${request}`);
  return value.trim();
}

let current = "start";
function step(name) {
  current = name;
  console.error(`step: ${name}`);
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // Flags for a closed network and a root user (see the machine notes).
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const errors = [];
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  let loads = 0;
  page.on("load", () => loads++);

  // 1. The feed shows what is already there.
  step("feed");
  await page.goto(url + "#feed");
  await page.locator("#conn[data-state=open]").waitFor({ timeout: 10000 });
  await page.getByText("first message from the CLI").waitFor({ timeout: 10000 });
  check((await page.locator("#me").innerText()).includes("user:"), "the browser user is registered");

  // 2. A message sent from the CLI appears without a reload.
  step("push");
  const sent = await ask("READY");
  const [id, ...words] = sent.split(" ");
  const text = words.join(" ");
  const article = page.locator(`article[data-id="${id}"]`);
  await article.waitFor({ timeout: 5000 });
  check((await article.innerText()).includes(text), "the pushed message shows its text");
  check(loads === 1, `no reload happened (loads: ${loads})`);
  await page.screenshot({ path: `${shots}/feed.png` });

  // 3. Reply from the browser, keyboard only: focus the message, Enter
  //    opens its thread, type, Enter sends.
  step("reply");
  await article.focus();
  await page.keyboard.press("Enter");
  await page.locator("#panel:not([hidden])").waitFor();
  await page.keyboard.type("reply from the browser");
  await page.keyboard.press("Enter");
  await page.locator("#panel-body").getByText("reply from the browser").waitFor({ timeout: 5000 });
  await page.screenshot({ path: `${shots}/thread.png` });
  check((await ask("REPLIED reply from the browser")) === "INBOX_OK", "the CLI inbox got the reply");
  await page.keyboard.press("Escape");

  // 4. Compose with a mention and a scope into a group channel.
  step("group compose");
  await page.keyboard.press("3"); // first group
  await page.locator("#view-title", { hasText: "#team" }).waitFor();
  await page.locator("#compose-scope").fill("module:auth");
  await page.locator("#compose-text").click();
  await page.keyboard.type("hello team, ping @ali");
  await page.locator("#suggest:not([hidden])").waitFor();
  await page.keyboard.press("Enter"); // picks @alice
  check((await page.locator("#compose-text").inputValue()).includes("@alice "), "autocomplete picked @alice");
  await page.keyboard.press("Enter"); // sends
  await page.locator("#content").getByText("hello team, ping").waitFor({ timeout: 5000 });
  await page.locator("#view-subtitle", { hasText: "1 member · @alice" }).waitFor();
  await page.screenshot({ path: `${shots}/group.png` });
  check((await ask("GROUP_SENT hello team, ping")) === "GROUP_OK", "alice got the group message");
  // Its thread shows where each recipient is: alice has read it.
  step("delivery state");
  const own = page.locator("#content article", { hasText: "hello team, ping" }).first();
  await own.focus();
  await page.keyboard.press("Enter");
  const delivery = page.locator("#panel:not([hidden]) .delivery");
  await delivery.waitFor({ timeout: 5000 });
  await delivery.locator("li.delivery-read", { hasText: "alice" }).waitFor({ timeout: 5000 });
  check((await delivery.innerText()).includes("read"), "the delivery section says alice read it");
  await page.screenshot({ path: `${shots}/delivery.png` });
  await page.keyboard.press("Escape");

  // 5. Inbox, agents, who-has, settings, search.
  step("views");
  await page.keyboard.press("Escape"); // out of the compose box
  await page.keyboard.press("2");
  await page.locator("#view-title", { hasText: "My Inbox" }).waitFor();
  await page.getByText(text).first().waitFor({ timeout: 5000 });
  await page.screenshot({ path: `${shots}/inbox.png` });
  await page.locator('.nav-item[data-agent="alice"]').click();
  await page.locator("#view-subtitle", { hasText: "implementer" }).waitFor();
  await page.screenshot({ path: `${shots}/agent.png` });
  await page.keyboard.press("1");
  await page.keyboard.press("Control+k");
  check(await page.evaluate(() => document.activeElement && document.activeElement.id === "search"), "Ctrl+K focuses search");
  await page.keyboard.type("no such text anywhere");
  await page.getByText("No messages match").waitFor();
  await page.locator("#search").fill("");
  await page.keyboard.press("Escape"); // leave the search box
  await page.keyboard.press("4");
  await page.locator("#whohas-input").waitFor();
  await page.keyboard.press("Escape");
  await page.keyboard.press("5");
  await page.getByText("Keyboard shortcuts").waitFor();
  await page.locator("dd", { hasText: "user:" }).waitFor();
  await page.screenshot({ path: `${shots}/settings.png` });

  // 6. The daemon goes away and comes back: the page says so and recovers.
  step("reconnect");
  await page.keyboard.press("1");
  check((await ask("STOP_DAEMON")) === "STOPPED", "daemon stopped");
  await page.locator("#conn[data-state=closed], #conn[data-state=reconnecting]").first().waitFor({ timeout: 10000 });
  await page.locator("#banner:not([hidden])").waitFor();
  await page.screenshot({ path: `${shots}/disconnected.png` });
  check((await ask("START_DAEMON")) === "STARTED", "daemon started");
  await page.locator("#conn[data-state=open]").waitFor({ timeout: 20000 });
  const again = await ask("RECONNECTED");
  const [id2] = again.split(" ");
  await page.locator(`article[data-id="${id2}"]`).waitFor({ timeout: 5000 });
  check(loads === 1, "still no reload after reconnecting");

  // 7. Phone width: the sidebar is a drawer, opened from the menu.
  step("phone");
  await page.setViewportSize({ width: 390, height: 844 });
  // The drawer slides out with a short transition: wait for it to end.
  const hidden = await page
    .waitForFunction(() => {
      const r = document.querySelector("#sidebar").getBoundingClientRect();
      return r.width === 0 || r.right <= 0;
    }, null, { timeout: 3000 })
    .then(() => true, () => false);
  check(hidden, "sidebar hidden on a phone");
  await page.screenshot({ path: `${shots}/phone.png` });
  await page.locator("#menu").click();
  await page.waitForTimeout(300);
  check((await page.locator("#sidebar").boundingBox()).x >= 0, "menu opens the drawer");
  await page.screenshot({ path: `${shots}/phone-menu.png` });

  check(errors.length === 0, `no page errors: ${errors.join("; ")}`);
  console.log("DONE");
} catch (e) {
  console.error(`browser test failed at step "${current}": ${e.message}`);
  if (errors.length) console.error(errors.join("\n"));
  if (page) {
    // What the page itself said, and a picture of it.
    for (const id of ["compose-error", "reply-error", "banner", "conn-text"]) {
      const t = await page.locator(`#${id}`).innerText().catch(() => "");
      if (t.trim()) console.error(`#${id}: ${t.trim()}`);
    }
    await page.screenshot({ path: `${shots}/failure.png` }).catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await browser.close();
  // stdin stays open (the test holds it): leave explicitly.
  process.exit(process.exitCode || 0);
}
