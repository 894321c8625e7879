// thrum web UI: a single page over the daemon's WebSocket JSON-RPC API.
// No framework and no build step: the daemon embeds these files as they
// are. Every piece of text from the daemon goes into the page through
// textContent, never parsed as HTML, so message bodies cannot inject markup.
"use strict";

// ---------------------------------------------------------------- RPC ---

/** One WebSocket to /ws with request/response matching, server pushes and
 *  reconnection with backoff. */
class Rpc {
  constructor(url, { onState, onPush, onOpen }) {
    this.url = url;
    this.onState = onState;
    this.onPush = onPush;
    this.onOpen = onOpen;
    this.nextId = 1;
    this.pending = new Map();
    this.ws = null;
    this.retry = 0;
    this.timer = null;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    this.onState(this.retry === 0 ? "connecting" : "reconnecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.onState("open");
      this.onOpen();
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.id !== undefined && msg.id !== null && this.pending.has(msg.id)) {
        const { resolve, reject } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) reject(new RpcError(msg.error));
        else resolve(msg.result);
      } else if (msg.method) {
        this.onPush(msg.method, msg.params || {});
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      for (const { reject } of this.pending.values()) reject(new Error("disconnected from the daemon"));
      this.pending.clear();
      this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    // 0.5 s, 1 s, 2 s … up to 10 s between attempts.
    const delay = Math.min(10000, 500 * 2 ** this.retry);
    this.retry += 1;
    this.onState("closed", delay);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.ws) return;
    this.connect();
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  call(method, params = {}) {
    if (!this.open) return Promise.reject(new Error("not connected to the daemon"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }
}

class RpcError extends Error {
  constructor(err) {
    super(err.message || "request failed");
    this.code = err.code;
    this.data = err.data;
  }
}

// ------------------------------------------------------------ helpers ---

const $ = (id) => document.getElementById(id);

/** Builds an element: h("div", {class: "x", onclick: f}, child, "text"). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the page's CSP
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function hue(s) {
  let x = 0;
  for (const ch of s) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x % 360;
}

function avatar(id) {
  const name = id.replace(/^user:/, "");
  return h("div", { class: "avatar", style: `background: hsl(${hue(id)} 55% 45%)`, "aria-hidden": "true" }, name.slice(0, 1) || "?");
}

function displayName(id) {
  const a = state.agents.get(id);
  if (a && a.display) return a.display;
  return id;
}

function fmtTime(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function fmtDay(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const today = new Date();
  const y = new Date(today);
  y.setDate(today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === y.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "short", month: "short", day: "numeric", year: d.getFullYear() === today.getFullYear() ? undefined : "numeric" });
}

function relative(iso) {
  if (!iso) return "never";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (isNaN(s)) return iso;
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function parseScope(text) {
  const t = text.trim();
  if (!t) return null;
  const i = t.indexOf(":");
  if (i <= 0 || i === t.length - 1) throw new Error(`scope ${JSON.stringify(t)} must look like type:value (e.g. module:auth)`);
  return { type: t.slice(0, i), value: t.slice(i + 1) };
}

/** Markdown-lite into DOM nodes: fenced code, inline code, **bold**,
 *  *italics* and @mentions. Text nodes only, so nothing is interpreted. */
function renderBody(text) {
  const frag = document.createDocumentFragment();
  const parts = text.split(/```(?:[a-zA-Z0-9_-]*\n)?/);
  parts.forEach((part, i) => {
    if (i % 2 === 1) frag.append(h("pre", {}, part.replace(/\n$/, "")));
    else frag.append(inline(part));
  });
  return frag;
}

function inline(text) {
  const frag = document.createDocumentFragment();
  const re = /(`[^`\n]+`|\*\*[^*\n]+\*\*|\*[^*\n]+\*|@[a-zA-Z0-9_:-]+)/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) frag.append(text.slice(last, m.index));
    const t = m[0];
    if (t.startsWith("`")) frag.append(h("code", {}, t.slice(1, -1)));
    else if (t.startsWith("**")) frag.append(h("strong", {}, t.slice(2, -2)));
    else if (t.startsWith("*")) frag.append(h("em", {}, t.slice(1, -1)));
    else frag.append(h("span", { class: "at" }, t));
    last = m.index + t.length;
  }
  if (last < text.length) frag.append(text.slice(last));
  return frag;
}

// -------------------------------------------------------------- state ---

const state = {
  me: null, // "user:name"
  display: "",
  agents: new Map(), // agent_id -> AgentInfo
  active: new Set(), // agent ids with an open session
  contexts: new Map(), // agent_id -> ContextInfo
  groups: [],
  groupMembers: new Map(), // group name -> member labels
  view: { kind: "feed" },
  tab: "all",
  messages: [],
  seen: new Set(), // ids rendered once, to highlight newcomers
  filters: { text: "", author: "", scope: "" },
  thread: null, // { rootId, threadId }
  health: null,
  unread: 0,
  loading: false,
  loadSeq: 0,
};

const rpc = new Rpc(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`, {
  onState: connectionState,
  onPush: handlePush,
  onOpen: bootstrap,
});

// ---------------------------------------------------------- lifecycle ---

function connectionState(s, delay) {
  const conn = $("conn");
  conn.dataset.state = s;
  const banner = $("banner");
  if (s === "open") {
    $("conn-text").textContent = "Connected";
    banner.hidden = true;
    return;
  }
  if (s === "connecting") {
    $("conn-text").textContent = "Connecting…";
    return;
  }
  const secs = Math.round((delay || 0) / 1000);
  $("conn-text").textContent = s === "reconnecting" ? "Reconnecting…" : "Disconnected";
  banner.hidden = false;
  banner.dataset.kind = "error";
  banner.replaceChildren(
    h("span", {}, s === "reconnecting" ? "Reconnecting to the daemon…" : `Disconnected from the daemon. Retrying in ${secs || 1} s — is it running? (\`thrum daemon start\`)`),
    h("button", { type: "button", onclick: () => rpc.reconnectNow() }, "Retry now"),
  );
}

async function bootstrap() {
  try {
    const who = await rpc.call("user.identify");
    const reg = await rpc.call("user.register", { username: safeUsername(who.username), display: who.display || who.username });
    state.me = reg.user_id;
    state.display = reg.display_name || who.display || reg.username;
  } catch (e) {
    showBanner(`Could not register you as a user: ${e.message}`, "error");
  }
  renderMe();
  try {
    if (state.me) await rpc.call("subscribe", { all: true });
  } catch (e) {
    showBanner(`Live updates are off: ${e.message}`, "error");
  }
  await Promise.allSettled([refreshHealth(), refreshAgents(), refreshGroups(), refreshUnread()]);
  renderHeader(); // counts and names that needed the data above
  if (state.view.kind === "group") loadMembers(state.view.name);
  await loadView();
}

function safeUsername(u) {
  const s = String(u || "browser").toLowerCase().replace(/[^a-z0-9_-]/g, "-").slice(0, 32);
  return s || "browser";
}

function showBanner(text, kind = "info") {
  const banner = $("banner");
  banner.hidden = false;
  banner.dataset.kind = kind;
  banner.replaceChildren(h("span", {}, text), h("button", { type: "button", onclick: () => (banner.hidden = true) }, "Dismiss"));
}

// --------------------------------------------------------------- data ---

async function refreshHealth() {
  const hl = await rpc.call("health");
  const id = hl.identity || {};
  hl.repo_path = id.repo_path || "";
  hl.daemon_id = id.daemon_id || "";
  state.health = hl;
  const repo = id.repo_name || hl.repo_path.split("/").filter(Boolean).pop() || "";
  $("repo-name").textContent = repo;
  document.title = repo ? `Thrum · ${repo}` : "Thrum";
  $("daemon-info").textContent = `thrum ${hl.version || ""} · up ${uptime(hl.uptime_ms)} · ${hl.repo_path}${id.hostname ? " on " + id.hostname : ""}`;
}

function uptime(ms) {
  const s = Math.floor((ms || 0) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

async function refreshAgents() {
  const [list, ctx] = await Promise.all([rpc.call("agent.list"), rpc.call("agent.listContext").catch(() => ({ contexts: [] }))]);
  state.agents = new Map((list.agents || []).map((a) => [a.agent_id, a]));
  // The daemon's presence, the same the CLI and the MCP tools show.
  state.active = new Set((list.agents || []).filter((a) => a.presence === "active").map((a) => a.agent_id));
  state.contexts = new Map((ctx.contexts || []).map((c) => [c.agent_id, c]));
  renderAgents();
  renderAuthorFilter();
}

async function refreshGroups() {
  const r = await rpc.call("group.list");
  state.groups = r.groups || [];
  renderGroups();
}

async function refreshUnread() {
  if (!state.me) return;
  const r = await rpc.call("message.list", { for_agent: state.me, unread: true, page_size: 1 });
  state.unread = r.total || 0;
  const b = $("inbox-badge");
  b.hidden = state.unread === 0;
  b.textContent = state.unread > 99 ? "99+" : String(state.unread);
  b.setAttribute("aria-label", `${state.unread} unread`);
}

/** The message.list parameters for the current view, tab and filters. */
function listParams() {
  const v = state.view;
  const p = { page_size: 100, include_audience: true };
  if (v.kind === "inbox") {
    p.for_agent = state.me;
    if (state.tab === "unread") p.unread = true;
    if (state.tab === "mentions") p.mentions = true;
  } else if (v.kind === "group") {
    // A group send carries a group ref; @everyone a broadcast one.
    p.ref = v.name === "everyone" ? { type: "broadcast", value: "everyone" } : { type: "group", value: v.name };
  } else if (v.kind === "agent") {
    p.author_id = v.id;
  }
  if (state.filters.author) p.author_id = state.filters.author;
  if (state.filters.scope) p.scope = parseScope(state.filters.scope);
  return p;
}

async function loadView({ quiet = false } = {}) {
  const v = state.view;
  if (!["feed", "inbox", "group", "agent"].includes(v.kind)) return;
  const seq = ++state.loadSeq;
  if (!rpc.open) {
    // bootstrap() loads the view once the connection is up.
    $("content").replaceChildren(h("div", { class: "loading" }, "Connecting to the daemon…"));
    return;
  }
  if (!quiet) {
    state.loading = true;
    $("content").replaceChildren(h("div", { class: "loading" }, "Loading messages…"));
  }
  let r;
  try {
    r = await rpc.call("message.list", listParams());
  } catch (e) {
    if (seq !== state.loadSeq || state.view !== v) return;
    state.loading = false;
    $("content").replaceChildren(h("div", { class: "empty" }, h("h2", {}, "Could not load messages"), e.message));
    return;
  }
  // A newer load started meanwhile, or the user moved to another view.
  if (seq !== state.loadSeq || state.view !== v) return;
  state.loading = false;
  state.messages = (r.messages || []).slice().reverse(); // oldest first, like a chat
  renderMessages();
  if (v.kind === "inbox") markVisibleRead();
}

async function markVisibleRead() {
  const ids = state.messages.filter((m) => !m.is_read && m.agent_id !== state.me).map((m) => m.message_id);
  if (ids.length === 0 || !state.me) return;
  try {
    await rpc.call("message.markRead", { message_ids: ids });
  } catch {
    return;
  }
  refreshUnread().catch(() => {});
}

// ------------------------------------------------------------- pushes ---

let reloadTimer = null;

function handlePush(method, params) {
  if (method === "notification.message") {
    if (params.author && !state.agents.has(params.author.agent_id)) refreshAgents().catch(() => {});
    // Coalesce bursts: one reload for many messages.
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => {
      loadView({ quiet: true });
      refreshUnread().catch(() => {});
      if (state.thread) loadThread();
    }, 60);
  } else if (method === "notification.missed") {
    loadView({ quiet: true });
  }
}

// -------------------------------------------------------------- views ---

const VIEW_TITLES = { feed: "Live Feed", inbox: "My Inbox", whohas: "Who Has?", settings: "Settings" };

function go(view) {
  state.view = view;
  state.loadSeq++; // answers to loads for the previous view are dropped
  state.tab = "all";
  closeNav();
  for (const b of document.querySelectorAll(".nav-item")) {
    const match =
      (b.dataset.view && b.dataset.view === view.kind) ||
      (b.dataset.group && view.kind === "group" && b.dataset.group === view.name) ||
      (b.dataset.agent && view.kind === "agent" && b.dataset.agent === view.id);
    if (match) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  renderHeader();
  const messages = ["feed", "inbox", "group", "agent"].includes(view.kind);
  $("compose").hidden = !messages;
  $("filters").hidden = !messages;
  if (view.kind === "group") loadMembers(view.name);
  if (messages) {
    // A new view's first render is not news: nothing flashes.
    state.seen = new Set();
    state.renderedOnce = false;
    loadView();
  } else if (view.kind === "whohas") renderWhoHas();
  else if (view.kind === "settings") renderSettings();
  const hash = view.kind === "group" ? `#group/${encodeURIComponent(view.name)}` : view.kind === "agent" ? `#agent/${encodeURIComponent(view.id)}` : `#${view.kind}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function viewFromHash() {
  const [kind, arg] = location.hash.replace(/^#/, "").split("/");
  if (kind === "group" && arg) return { kind, name: decodeURIComponent(arg) };
  if (kind === "agent" && arg) return { kind, id: decodeURIComponent(arg) };
  if (["feed", "inbox", "whohas", "settings"].includes(kind)) return { kind };
  return { kind: "feed" };
}

function renderHeader() {
  const v = state.view;
  let title = VIEW_TITLES[v.kind] || "";
  let sub = "";
  if (v.kind === "group") {
    const g = state.groups.find((x) => x.name === v.name);
    title = `#${v.name}`;
    const n = g ? g.member_count ?? 0 : 0;
    const who = (state.groupMembers.get(v.name) || []).join(", ");
    sub = g ? [`${n} ${n === 1 ? "member" : "members"}`, who, g.description].filter(Boolean).join(" · ") : "";
  } else if (v.kind === "agent") {
    const a = state.agents.get(v.id);
    const c = state.contexts.get(v.id);
    title = `@${v.id}`;
    sub = [a && a.role, a && a.module, state.active.has(v.id) ? "online" : "offline", c && c.branch && `on ${c.branch}`, c && c.intent && `“${c.intent}”`].filter(Boolean).join(" · ");
  } else if (v.kind === "feed") {
    sub = "Every message in this repository, live";
  } else if (v.kind === "inbox") {
    sub = state.me ? `Messages for ${state.me}` : "";
  }
  $("view-title").textContent = title;
  $("view-subtitle").textContent = sub;
  const tabs = $("tabs");
  if (v.kind === "inbox") {
    tabs.hidden = false;
    tabs.replaceChildren(
      ...["all", "unread", "mentions"].map((t) =>
        h("button", { class: "tab", role: "tab", type: "button", "aria-selected": String(state.tab === t), onclick: () => { state.tab = t; renderHeader(); loadView(); } }, t[0].toUpperCase() + t.slice(1)),
      ),
    );
  } else tabs.hidden = true;
  const target = composeTarget();
  $("compose-target").textContent = target.length ? `To ${target.map((t) => "@" + t).join(", ")}` : "To everyone (add @names to address someone)";
}

/** Who a message composed in this view goes to, before any @mentions. */
function composeTarget() {
  const v = state.view;
  if (v.kind === "group") return [v.name];
  if (v.kind === "agent") return [v.id];
  return [];
}

const MESSAGE_VIEWS = ["feed", "inbox", "group", "agent"];

function renderMessages() {
  // A debounced search or a late answer must not paint over another view.
  if (!MESSAGE_VIEWS.includes(state.view.kind)) return;
  const content = $("content");
  const atBottom = content.scrollHeight - content.scrollTop - content.clientHeight < 80;
  const text = state.filters.text.toLowerCase();
  let list = state.messages;
  if (text) list = list.filter((m) => (m.body.content || "").toLowerCase().includes(text) || m.agent_id.toLowerCase().includes(text));
  // Threads: replies whose root is on the page are folded under it.
  const roots = new Map();
  for (const m of list) if (m.thread_id && !m.reply_to) roots.set(m.thread_id, m);
  const replies = new Map();
  const shown = [];
  for (const m of list) {
    if (m.reply_to && m.thread_id && roots.has(m.thread_id)) {
      replies.set(m.thread_id, (replies.get(m.thread_id) || 0) + 1);
    } else shown.push(m);
  }
  if (shown.length === 0) {
    content.replaceChildren(emptyState());
    return;
  }
  const nodes = [];
  let day = "";
  for (const m of shown) {
    const d = fmtDay(m.created_at);
    if (d !== day) {
      nodes.push(h("div", { class: "day", role: "separator" }, d));
      day = d;
    }
    nodes.push(messageNode(m, replies.get(m.thread_id) || 0));
  }
  content.replaceChildren(...nodes);
  for (const m of shown) state.seen.add(m.message_id);
  if (atBottom || !state.renderedOnce) content.scrollTop = content.scrollHeight;
  state.renderedOnce = true;
}

function emptyState() {
  const v = state.view;
  const filtered = state.filters.text || state.filters.author || state.filters.scope;
  if (filtered) return h("div", { class: "empty" }, h("h2", {}, "No messages match"), "Clear the search or filters above to see everything.");
  if (v.kind === "inbox")
    return h("div", { class: "empty" }, h("h2", {}, state.tab === "all" ? "Your inbox is empty" : `No ${state.tab} messages`), "Messages that mention you, your role or everyone land here.");
  if (v.kind === "group") return h("div", { class: "empty" }, h("h2", {}, `Nothing in #${v.name} yet`), "Write the first message below.");
  if (v.kind === "agent") return h("div", { class: "empty" }, h("h2", {}, `@${v.id} has not sent anything`), "Message them below.");
  return h("div", { class: "empty" }, h("h2", {}, "No messages yet"), "Send one below, or from a terminal: thrum send \"hello\" --to @someone");
}

function messageNode(m, replyCount, { inThread = false } = {}) {
  const a = state.agents.get(m.agent_id);
  const mentioned = state.me && (m.audiences || []).some((x) => x.value === state.me || x.value === "user");
  const cls = ["msg"];
  if (!m.is_read && state.view.kind === "inbox" && !inThread) cls.push("unread");
  if (mentioned) cls.push("mentioned");
  if (m.deleted) cls.push("deleted");
  if (state.renderedOnce && !state.seen.has(m.message_id) && !inThread) cls.push("fresh");
  const to = (m.audiences || []).map((x) => (x.type === "broadcast" ? "everyone" : "@" + x.value));
  // group:/broadcast: scopes are how audiences are stored; "to" shows them.
  const scopes = (m.scopes || []).filter((s) => s.type !== "group" && s.type !== "broadcast").map((s) => h("span", { class: "chip scope" }, `${s.type}:${s.value}`));
  const node = h(
    "article",
    { class: cls.join(" "), tabindex: "0", dataset: { id: m.message_id }, "aria-label": `${displayName(m.agent_id)} at ${fmtTime(m.created_at)}` },
    avatar(m.agent_id),
    h(
      "div",
      {},
      h(
        "div",
        { class: "msg-head" },
        h("span", { class: "author" }, displayName(m.agent_id)),
        a && a.role ? h("span", { class: "role" }, a.role) : null,
        h("time", { class: "time", datetime: m.created_at, title: new Date(m.created_at).toLocaleString() }, fmtTime(m.created_at)),
        to.length ? h("span", { class: "to" }, "→ " + to.join(", ")) : null,
        ...scopes,
        m.updated_at ? h("span", { class: "chip" }, "edited") : null,
      ),
      h("div", { class: "body" }, m.deleted ? "(deleted)" : renderBody(m.body.content || "")),
      inThread
        ? null
        : h(
            "div",
            { class: "msg-actions" },
            replyCount > 0 ? h("button", { class: "link-btn replies", type: "button", onclick: () => openThread(m) }, `${replyCount} ${replyCount === 1 ? "reply" : "replies"}`) : null,
            m.reply_to && !replyCount ? h("button", { class: "link-btn", type: "button", onclick: () => openThread(m) }, "↪ view thread") : null,
            h("button", { class: "link-btn", type: "button", onclick: () => openThread(m), "aria-label": `Reply to ${displayName(m.agent_id)}` }, "Reply"),
          ),
    ),
  );
  node.addEventListener("keydown", (e) => {
    if (e.target !== node) return;
    if (e.key === "Enter" || e.key === "r") {
      e.preventDefault();
      openThread(m);
    }
  });
  return node;
}

// ------------------------------------------------------------- thread ---

function openThread(m) {
  // Focus goes back where it came from when the thread closes.
  const opener = document.activeElement;
  state.thread = { root: m, threadId: m.thread_id || "", opener };
  $("panel").hidden = false;
  $("panel-title").textContent = "Thread";
  loadThread();
  $("reply-text").focus();
}

async function loadThread() {
  const t = state.thread;
  if (!t) return;
  const body = $("panel-body");
  let msgs = [t.root];
  if (t.threadId) {
    try {
      const r = await rpc.call("message.list", { thread_id: t.threadId, page_size: 100, sort_order: "asc", include_audience: true });
      if (state.thread !== t) return; // closed or another thread opened
      msgs = r.messages || msgs;
    } catch (e) {
      body.replaceChildren(h("div", { class: "empty" }, e.message));
      return;
    }
  }
  body.replaceChildren(...msgs.map((m) => messageNode(m, 0, { inThread: true })));
  // Your own message: where each recipient is (stored → announced → read).
  if (t.root.agent_id === state.me) {
    try {
      const r = await rpc.call("message.get", { message_id: t.root.message_id });
      if (state.thread === t) body.prepend(deliveryNode(r.message.recipients || []));
    } catch (e) {
      // The thread stands without it.
    }
  }
  body.scrollTop = body.scrollHeight;
}

/** Each recipient's delivery state and when it changed. */
function deliveryNode(recipients) {
  const when = (iso) => (iso ? ` ${fmtTime(iso)}` : "");
  const line = (r) => {
    let text;
    if (r.peer_pending) text = "pending via peer";
    else if (r.state === "read") text = `read${when(r.read_at)}`;
    else if (r.state === "announced") text = r.announced_via ? `told via ${r.announced_via}${when(r.announced_at)}` : `seen${when(r.seen_at)}`;
    else text = `stored${when(r.delivered_at)}`;
    return h("li", { class: `delivery-${r.peer_pending ? "pending" : r.state || "stored"}` }, h("span", { class: "author" }, displayName(r.agent_id)), " — ", text);
  };
  return h(
    "section",
    { class: "delivery", "aria-label": "Delivery" },
    h("h3", {}, "Delivery"),
    recipients.length ? h("ul", {}, ...recipients.map(line)) : h("p", { class: "to" }, "No recipients yet."),
  );
}

function closeThread() {
  const opener = state.thread && state.thread.opener;
  state.thread = null;
  $("panel").hidden = true;
  if (opener && opener.isConnected && opener !== document.body) opener.focus();
  else $("main").focus();
}

// ------------------------------------------------------------ sidebar ---

function renderAgents() {
  const ul = $("agent-list");
  const agents = [...state.agents.values()].sort((a, b) => Number(state.active.has(b.agent_id)) - Number(state.active.has(a.agent_id)) || a.agent_id.localeCompare(b.agent_id));
  $("online-count").textContent = `${agents.filter((a) => state.active.has(a.agent_id)).length} online`;
  if (agents.length === 0) {
    ul.replaceChildren(h("li", { class: "muted small", style: "padding: 4px 10px" }, "No agents yet"));
    return;
  }
  ul.replaceChildren(
    ...agents.map((a) => {
      const on = state.active.has(a.agent_id);
      const c = state.contexts.get(a.agent_id);
      const tip = [`${a.agent_id} (${a.role || "no role"}${a.module ? ", " + a.module : ""})`, on ? "online" : `offline, last seen ${relative(a.last_seen_at)}`, c && c.branch && `branch ${c.branch}`, c && c.intent && `intent: ${c.intent}`].filter(Boolean).join("\n");
      return h(
        "li",
        {},
        h(
          "button",
          { class: "nav-item", type: "button", title: tip, dataset: { agent: a.agent_id }, onclick: () => go({ kind: "agent", id: a.agent_id }), "aria-current": state.view.kind === "agent" && state.view.id === a.agent_id ? "page" : null },
          h("span", { class: `presence${on ? " on" : ""}`, role: "img", "aria-label": on ? "online" : "offline" }),
          h("span", { class: "label" }, a.agent_id),
          h("span", { class: "meta" }, a.role || ""),
        ),
      );
    }),
  );
}

/** Fetches a group's members for its header (@agents, role:x, #groups). */
async function loadMembers(name) {
  if (!rpc.open || name === "everyone") return;
  try {
    const r = await rpc.call("group.members", { name });
    const label = (m) => (m.member_type === "agent" ? "@" + m.member_value : m.member_type === "group" ? "#" + m.member_value : `${m.member_type}:${m.member_value}`);
    state.groupMembers.set(name, (r.members || []).map(label));
    if (state.view.kind === "group" && state.view.name === name) renderHeader();
  } catch {
    // The header just shows the count.
  }
}

/** Groups by name, the built-in @everyone last. */
function sortedGroups() {
  return state.groups.slice().sort((a, b) => Number(a.name === "everyone") - Number(b.name === "everyone") || a.name.localeCompare(b.name));
}

function renderGroups() {
  const ul = $("group-list");
  const groups = sortedGroups();
  ul.replaceChildren(
    ...groups.map((g) =>
      h(
        "li",
        {},
        h(
          "button",
          { class: "nav-item", type: "button", dataset: { group: g.name }, title: g.description || g.name, onclick: () => go({ kind: "group", name: g.name }), "aria-current": state.view.kind === "group" && state.view.name === g.name ? "page" : null },
          h("span", { class: "icon", "aria-hidden": "true" }, "#"),
          h("span", { class: "label" }, g.name),
        ),
      ),
    ),
  );
}

function renderAuthorFilter() {
  const sel = $("filter-agent");
  const cur = sel.value;
  sel.replaceChildren(h("option", { value: "" }, "Anyone"), ...[...state.agents.keys()].sort().map((id) => h("option", { value: id }, id)));
  sel.value = cur;
}

function renderMe() {
  const me = $("me");
  me.replaceChildren(state.me ? h("span", {}, "You are ", h("strong", {}, state.display || state.me), h("br"), h("span", {}, state.me)) : h("span", {}, "Not registered: read-only"));
}

// -------------------------------------------------------------- tools ---

function renderWhoHas() {
  const input = h("input", { type: "search", id: "whohas-input", placeholder: "path/to/file.rs", "aria-label": "File path", style: "width: 100%" });
  const out = h("div", { "aria-live": "polite" });
  const run = async () => {
    const q = input.value.trim();
    if (!q) {
      out.replaceChildren(h("p", { class: "muted" }, "Type a file path (or its end, such as auth.rs) to see which agents are changing it."));
      return;
    }
    let r;
    try {
      // The daemon decides which files match (as for `thrum who-has`).
      r = await rpc.call("agent.listContext", { file: q });
      if (!out.isConnected || input.value.trim() !== q) return; // left, or typed on
    } catch (e) {
      out.replaceChildren(h("p", {}, e.message));
      return;
    }
    const rows = (r.contexts || []).map((c) => ({ c, files: c.matched_files || [] }));
    if (rows.length === 0) {
      out.replaceChildren(h("p", { class: "muted" }, `No active agent is changing a file matching “${q}”.`));
      return;
    }
    out.replaceChildren(
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", {}, "Agent"), h("th", {}, "Branch"), h("th", {}, "Commits"), h("th", {}, "Files"))),
        h(
          "tbody",
          {},
          rows.map(({ c, files }) => h("tr", {}, h("td", {}, "@" + c.agent_id), h("td", {}, c.branch || ""), h("td", {}, String((c.unmerged_commits || []).length)), h("td", {}, files.join("\n")))),
        ),
      ),
    );
  };
  let t = null;
  input.addEventListener("input", () => {
    clearTimeout(t);
    t = setTimeout(run, 150);
  });
  $("content").replaceChildren(h("div", { class: "page" }, h("div", { class: "card" }, h("h2", {}, "Who is changing a file?"), input, h("div", { style: "margin-top: 12px" }, out))));
  run();
  input.focus();
}

async function renderSettings() {
  const theme = localStorage.getItem("thrum-theme") || "system";
  const seg = h(
    "div",
    { class: "seg", role: "group", "aria-label": "Theme" },
    ["system", "light", "dark"].map((t) => h("button", { type: "button", "aria-pressed": String(theme === t), onclick: () => { setTheme(t); renderSettings(); } }, t[0].toUpperCase() + t.slice(1))),
  );
  const daemon = h("dl", { class: "kv" });
  const sync = h("dl", { class: "kv" });
  const kv = (dl, pairs) => dl.replaceChildren(...pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v == null || v === "" ? "—" : String(v))]));
  $("content").replaceChildren(
    h(
      "div",
      { class: "page" },
      h("div", { class: "card" }, h("h2", {}, "Daemon"), daemon),
      h("div", { class: "card" }, h("h2", {}, "Sync"), sync),
      h("div", { class: "card" }, h("h2", {}, "Theme"), seg),
      h(
        "div",
        { class: "card" },
        h("h2", {}, "Keyboard shortcuts"),
        h(
          "table",
          {},
          h(
            "tbody",
            {},
            [
              ["1", "Live Feed"],
              ["2", "My Inbox"],
              ["3", "First group"],
              ["4", "Who Has?"],
              ["5", "Settings"],
              ["Ctrl+K / ⌘K", "Search"],
              ["Enter / r", "Open the thread of the focused message"],
              ["Esc", "Close the thread or menu"],
            ].map(([k, v]) => h("tr", {}, h("td", {}, h("kbd", {}, k)), h("td", {}, v))),
          ),
        ),
      ),
    ),
  );
  // The page may have moved on while we waited (isConnected: still shown).
  const stillHere = () => state.view.kind === "settings" && daemon.isConnected;
  try {
    await refreshHealth();
    if (!stillHere()) return;
    const hl = state.health;
    kv(daemon, [["Version", hl.version], ["Uptime", uptime(hl.uptime_ms)], ["Repository", hl.repo_path], ["Daemon id", hl.daemon_id], ["Socket", hl.socket_path], ["Web port", hl.ws_port], ["You", state.me]]);
  } catch (e) {
    kv(daemon, [["Error", e.message]]);
  }
  try {
    const s = await rpc.call("sync.status");
    if (!stillHere()) return;
    kv(sync, [["State", s.sync_state], ["Remote", s.remote || "none (local only)"], ["Last sync", s.last_sync_at ? relative(s.last_sync_at) : "never"], ["Last error", s.last_error]]);
  } catch (e) {
    kv(sync, [["Error", e.message]]);
  }
}

const systemDark = window.matchMedia("(prefers-color-scheme: dark)");

/** Applies a theme choice: light, dark, or system (follows the OS, live). */
function setTheme(t) {
  localStorage.setItem("thrum-theme", t);
  applyTheme();
}

function applyTheme() {
  const t = localStorage.getItem("thrum-theme") || "system";
  const dark = t === "dark" || (t === "system" && systemDark.matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}

// ------------------------------------------------------------ compose ---

/** Splits leading/inline @names out of a message: they address it. */
function mentionsIn(text) {
  const out = [];
  for (const m of text.matchAll(/(^|\s)@([a-zA-Z0-9_:-]+)/g)) {
    const n = m[2].toLowerCase();
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

async function send(ev) {
  ev.preventDefault();
  const ta = $("compose-text");
  const err = $("compose-error");
  const text = ta.value.trim();
  if (!text) return;
  err.hidden = true;
  let scope;
  try {
    scope = parseScope($("compose-scope").value);
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
    return;
  }
  const mentions = [...new Set([...composeTarget(), ...mentionsIn(text)])];
  const params = { content: text, mentions };
  if (scope) params.scopes = [scope];
  $("send").disabled = true;
  try {
    await rpc.call("message.send", params);
    ta.value = "";
    $("compose-scope").value = "";
    autosize(ta);
    await loadView({ quiet: true });
    $("content").scrollTop = $("content").scrollHeight;
  } catch (e) {
    err.textContent = `Not sent: ${e.message}`;
    err.hidden = false;
  } finally {
    $("send").disabled = false;
    ta.focus();
  }
}

async function sendReply(ev) {
  ev.preventDefault();
  const t = state.thread;
  const ta = $("reply-text");
  const err = $("reply-error");
  const text = ta.value.trim();
  if (!t || !text) return;
  err.hidden = true;
  // The daemon sends it to the parent's audience and author (the same
  // people a reply from the CLI or an agent's MCP tool reaches), plus
  // anyone @named in the text.
  try {
    const r = await rpc.call("message.reply", { content: text, reply_to: t.root.message_id, mentions: mentionsIn(text) });
    if (!t.threadId) t.threadId = r.thread_id;
    ta.value = "";
    autosize(ta);
    await Promise.all([loadThread(), loadView({ quiet: true })]);
  } catch (e) {
    err.textContent = `Not sent: ${e.message}`;
    err.hidden = false;
  }
}

function autosize(ta) {
  ta.style.height = "auto";
  ta.style.height = Math.min(ta.scrollHeight + 2, 200) + "px";
}

// @mention autocomplete for the compose box.
const suggest = { items: [], index: 0, start: -1 };

function updateSuggest() {
  const ta = $("compose-text");
  const upto = ta.value.slice(0, ta.selectionStart);
  const m = upto.match(/(^|\s)@([a-zA-Z0-9_:-]*)$/);
  const box = $("suggest");
  if (!m) {
    box.hidden = true;
    suggest.items = [];
    return;
  }
  const q = m[2].toLowerCase();
  suggest.start = upto.length - m[2].length - 1;
  const names = [
    ...[...state.agents.values()].map((a) => ({ name: a.agent_id, note: a.role })),
    ...state.groups.map((g) => ({ name: g.name, note: "group" })),
    { name: "everyone", note: "all agents" },
  ];
  suggest.items = names.filter((n) => n.name.toLowerCase().startsWith(q)).slice(0, 8);
  suggest.index = 0;
  if (suggest.items.length === 0) {
    box.hidden = true;
    return;
  }
  renderSuggest();
  box.hidden = false;
}

function renderSuggest() {
  $("suggest").replaceChildren(
    ...suggest.items.map((n, i) =>
      h("li", { role: "option", "aria-selected": String(i === suggest.index), onmousedown: (e) => { e.preventDefault(); pickSuggest(i); } }, h("span", {}, "@" + n.name), h("span", { class: "muted" }, n.note || "")),
    ),
  );
}

function pickSuggest(i) {
  const ta = $("compose-text");
  const item = suggest.items[i];
  if (!item) return;
  const before = ta.value.slice(0, suggest.start);
  const after = ta.value.slice(ta.selectionStart);
  ta.value = `${before}@${item.name} ${after}`;
  const pos = before.length + item.name.length + 2;
  ta.setSelectionRange(pos, pos);
  $("suggest").hidden = true;
  suggest.items = [];
}

// --------------------------------------------------------- navigation ---

function openNav() {
  $("app").dataset.nav = "open";
  $("scrim").hidden = false;
  $("menu").setAttribute("aria-expanded", "true");
  const first = document.querySelector(".sidebar .nav-item");
  if (first) first.focus();
}

function closeNav() {
  $("app").dataset.nav = "closed";
  $("scrim").hidden = true;
  $("menu").setAttribute("aria-expanded", "false");
}

async function createGroup() {
  const name = prompt("New group name (letters, digits, _ or -):");
  if (!name) return;
  try {
    await rpc.call("group.create", { name: name.trim().replace(/^[@#]/, "") });
    await refreshGroups();
    go({ kind: "group", name: name.trim().replace(/^[@#]/, "") });
  } catch (e) {
    showBanner(`Could not create the group: ${e.message}`, "error");
  }
}

function typing(e) {
  const t = e.target;
  return t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
}

function wire() {
  applyTheme();
  systemDark.addEventListener("change", applyTheme);

  for (const b of document.querySelectorAll(".nav-item[data-view]")) b.addEventListener("click", () => go({ kind: b.dataset.view }));
  $("new-group").addEventListener("click", createGroup);
  $("menu").addEventListener("click", openNav);
  $("scrim").addEventListener("click", closeNav);
  $("panel-close").addEventListener("click", closeThread);
  $("compose").addEventListener("submit", send);
  $("reply-form").addEventListener("submit", sendReply);

  const ta = $("compose-text");
  ta.addEventListener("input", () => {
    autosize(ta);
    updateSuggest();
  });
  ta.addEventListener("keydown", (e) => {
    if (suggest.items.length && !$("suggest").hidden) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        suggest.index = (suggest.index + (e.key === "ArrowDown" ? 1 : suggest.items.length - 1)) % suggest.items.length;
        renderSuggest();
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        pickSuggest(suggest.index);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        $("suggest").hidden = true;
        suggest.items = [];
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("compose").requestSubmit();
    }
  });
  ta.addEventListener("blur", () => setTimeout(() => ($("suggest").hidden = true), 100));
  const rta = $("reply-text");
  rta.addEventListener("input", () => autosize(rta));
  rta.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("reply-form").requestSubmit();
    }
  });

  let searchTimer = null;
  $("search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.filters.text = e.target.value.trim();
      renderMessages();
    }, 120);
  });
  $("filter-agent").addEventListener("change", (e) => {
    state.filters.author = e.target.value;
    loadView();
  });
  $("filter-scope").addEventListener("change", (e) => {
    try {
      parseScope(e.target.value);
    } catch (err) {
      showBanner(err.message, "error");
      return;
    }
    state.filters.scope = e.target.value.trim();
    loadView();
  });

  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
      e.preventDefault();
      if (!$("filters").hidden) $("search").focus();
      else $("main").focus();
      return;
    }
    if (e.key === "Escape") {
      if ($("app").dataset.nav === "open") closeNav();
      else if (state.thread) closeThread();
      else $("main").focus();
      return;
    }
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    const views = { 1: "feed", 2: "inbox", 4: "whohas", 5: "settings" };
    if (views[e.key]) {
      e.preventDefault();
      go({ kind: views[e.key] });
    } else if (e.key === "3" && state.groups.length) {
      e.preventDefault();
      go({ kind: "group", name: sortedGroups()[0].name });
    }
  });
  window.addEventListener("hashchange", () => go(viewFromHash()));

  // Agents' presence and the daemon's uptime drift: refresh them now and then.
  setInterval(() => {
    if (!rpc.open) return;
    refreshAgents().catch(() => {});
    refreshHealth().catch(() => {});
  }, 15000);
}

wire();
go(viewFromHash());
rpc.connect();
