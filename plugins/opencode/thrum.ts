// @thrum-plugin opencode
/**
 * thrum's OpenCode plugin: new thrum mail reaches the model without the
 * agent polling. `thrum setup hooks --runtime opencode` installs it as
 * `.opencode/plugins/thrum.ts` (its source is `plugins/opencode/thrum.ts`
 * in thrum's repository; `--remove` takes it out again).
 *
 * Every rule (whose mail, announced once, never the agent's own or read
 * mail, the notice's wording) lives in the thrum binary: this file only
 * runs `thrum hook opencode EVENT` with `{"session_id", "cwd"}` on stdin and
 * shows the model what it prints (nothing when there is nothing to say).
 *
 * - `chat.message` (a prompt was submitted): the notice goes with the
 *   prompt, as a synthetic part (the model reads it, the TUI hides it).
 * - `tool.execute.after`: the notice is appended to the tool's output.
 * - `session.idle`: mail that is already waiting wakes the session at
 *   once; otherwise a `thrum hook opencode wait` blocks on the daemon's
 *   push and, when mail arrives, the session is woken with the notice as a
 *   new prompt (`session.promptAsync`), so a human watching sees why it
 *   started. Never while the session runs a turn, never while a permission
 *   or question prompt is open, never in a subagent's session.
 *
 * A failure never reaches the session: it is logged through OpenCode's log
 * (service "thrum") and the hook goes on as if there were no mail.
 */
import type { Plugin } from "@opencode-ai/plugin"
import { spawn, type ChildProcess } from "node:child_process"

// The thrum binary (`thrum setup hooks` writes the one it ran as).
const THRUM_DEFAULT = "thrum"
const THRUM = process.env.THRUM_BIN || THRUM_DEFAULT
/** A turn-boundary hook that takes longer than this is given up on. */
const TURN_TIMEOUT_MS = 10_000

type Model = { providerID: string; modelID: string }
type Session = { parent?: string; agent?: string; model?: Model }

export const ThrumPlugin: Plugin = async ({ client, directory }) => {
  /** What we know of each session: its parent (a subagent's), agent, model. */
  const sessions = new Map<string, Session>()
  /** Sessions running a turn. */
  const busy = new Set<string>()
  /** Open permission and question prompts: request id → session. */
  const asking = new Map<string, string>()
  /** Notices claimed but not shown yet (the session turned busy meanwhile). */
  const held = new Map<string, string>()
  /** The idle waker: one, for the session that went idle last. */
  let waiter: { session: string; child?: ChildProcess } | undefined
  let lastIdle: string | undefined
  let closed = false
  const warned = new Set<string>()

  function warn(what: string, err?: unknown) {
    const message = err === undefined ? what : `${what}: ${err instanceof Error ? err.message : String(err)}`
    if (warned.has(message)) return
    warned.add(message)
    try {
      void client.app.log({ body: { service: "thrum", level: "warn", message } }).catch(() => {})
    } catch {
      // Nowhere left to say it.
    }
  }

  /** Runs `thrum hook opencode EVENT` for `session`; its stdout, trimmed ("" on any failure). */
  function run(event: string, session: string, started?: (child: ChildProcess) => void): Promise<string> {
    return new Promise((resolve) => {
      let child: ChildProcess
      try {
        child = spawn(THRUM, ["hook", "opencode", event], { cwd: directory, stdio: ["pipe", "pipe", "ignore"] })
      } catch (err) {
        warn(`cannot run ${THRUM}`, err)
        resolve("")
        return
      }
      let out = ""
      const timer = event === "wait" ? undefined : setTimeout(() => child.kill("SIGKILL"), TURN_TIMEOUT_MS)
      child.stdout?.setEncoding("utf8")
      child.stdout?.on("data", (chunk: string) => (out += chunk))
      child.stdin?.on("error", () => {})
      child.on("error", (err) => {
        clearTimeout(timer)
        warn(`cannot run ${THRUM} hook opencode ${event}`, err)
        resolve("")
      })
      child.on("close", (code, signal) => {
        clearTimeout(timer)
        if (code !== 0 && signal === null) warn(`${THRUM} hook opencode ${event} exited with ${code}`)
        resolve(code === 0 ? out.trim() : "")
      })
      child.stdin?.end(JSON.stringify({ session_id: session, cwd: directory }))
      started?.(child)
    })
  }

  function remember(id: string | undefined, info: any) {
    if (!id || !info) return
    const s = sessions.get(id) ?? {}
    if (typeof info.parentID === "string") s.parent = info.parentID
    if (typeof info.agent === "string") s.agent = info.agent
    const m = info.model
    if (m && typeof m.providerID === "string") {
      const modelID = typeof m.modelID === "string" ? m.modelID : m.id
      if (typeof modelID === "string") s.model = { providerID: m.providerID, modelID }
    }
    sessions.set(id, s)
  }

  /** Whether `id` is a session of its own, not a subagent's (whose mail would go unseen). */
  async function topLevel(id: string): Promise<boolean> {
    if (!sessions.has(id)) {
      try {
        const r: any = await client.session.get({ path: { id } })
        remember(id, r?.data ?? {})
      } catch (err) {
        warn("cannot read the session", err)
        sessions.set(id, {})
      }
    }
    return !sessions.get(id)?.parent
  }

  function join(...texts: (string | undefined)[]): string {
    return texts.filter((t) => t).join("\n\n")
  }

  /** The notice held for `id`, taken. */
  function take(id: string): string {
    const text = held.get(id) ?? ""
    held.delete(id)
    return text
  }

  function hold(id: string, text: string) {
    held.set(id, join(held.get(id), text))
  }

  function stopWaiter(session?: string) {
    if (!waiter || (session !== undefined && waiter.session !== session)) return
    const w = waiter
    waiter = undefined
    try {
      w.child?.kill()
    } catch {
      // Already gone.
    }
  }

  function quiet(id: string): boolean {
    return !closed && !busy.has(id) && asking.size === 0
  }

  /** The session is idle: wake it for mail that is waiting, else wait for mail. */
  async function idle(id: string) {
    if (!quiet(id) || !(await topLevel(id))) return
    lastIdle = id
    const text = join(take(id), await run("idle", id))
    if (text) return wake(id, text)
    if (quiet(id)) arm(id)
  }

  /** Starts a turn in `id` whose prompt is the notice. */
  async function wake(id: string, text: string) {
    if (!quiet(id)) return hold(id, text)
    const s = sessions.get(id)
    busy.add(id)
    try {
      const r: any = await client.session.promptAsync({
        path: { id },
        body: { agent: s?.agent, model: s?.model, parts: [{ type: "text", text }] },
      })
      if (r?.error) throw new Error(JSON.stringify(r.error))
    } catch (err) {
      busy.delete(id)
      hold(id, text)
      warn("cannot wake the session", err)
    }
  }

  /** Runs the idle waker for `id` (replacing any other). */
  function arm(id: string) {
    stopWaiter()
    const w: { session: string; child?: ChildProcess } = { session: id }
    waiter = w
    void run("wait", id, (child) => (w.child = child)).then((out) => {
      if (waiter !== w) return // replaced or stopped
      waiter = undefined
      if (out === "pending") void idle(id)
    })
  }

  return {
    event: async ({ event }) => {
      try {
        const e: any = event
        const p: any = e.properties ?? {}
        switch (e.type) {
          case "session.created":
          case "session.updated":
            remember(p.info?.id ?? p.sessionID, p.info)
            break
          case "session.deleted":
            sessions.delete(p.info?.id ?? p.sessionID)
            break
          case "session.status":
            if (p.status?.type === "idle") busy.delete(p.sessionID)
            else {
              busy.add(p.sessionID)
              stopWaiter(p.sessionID)
            }
            break
          case "session.idle":
            busy.delete(p.sessionID)
            // A session at rest has no prompt of its own open.
            for (const [request, session] of asking) if (session === p.sessionID) asking.delete(request)
            void idle(p.sessionID)
            break
          case "permission.asked":
          case "question.asked":
            asking.set(p.id, p.sessionID)
            stopWaiter()
            break
          case "permission.replied":
          case "question.replied":
          case "question.rejected":
            asking.delete(p.requestID)
            if (asking.size === 0 && lastIdle && !waiter) void idle(lastIdle)
            break
        }
      } catch (err) {
        warn("event", err)
      }
    },

    "chat.message": async (input, output) => {
      try {
        remember(input.sessionID, { agent: input.agent, model: input.model })
        stopWaiter(input.sessionID)
        if (!(await topLevel(input.sessionID))) return
        const text = join(take(input.sessionID), await run("chat-message", input.sessionID))
        if (!text) return
        const messageID = (output.message as any)?.id ?? (output.parts[0] as any)?.messageID
        output.parts.push({ id: partID(), sessionID: input.sessionID, messageID, type: "text", text, synthetic: true } as any)
      } catch (err) {
        warn("chat.message", err)
      }
    },

    "tool.execute.after": async (input, output) => {
      try {
        if (!(await topLevel(input.sessionID))) return
        const text = join(take(input.sessionID), await run("tool-after", input.sessionID))
        if (!text) return
        if (typeof output.output === "string") output.output = `${output.output}\n\n${text}`
        else hold(input.sessionID, text)
      } catch (err) {
        warn("tool.execute.after", err)
      }
    },

    dispose: async () => {
      closed = true
      stopWaiter()
    },
  } as any
}

let lastMs = 0
let counter = 0
/** A new part id in OpenCode's form ("prt_", 12 hex digits of time and counter, 14 random base-62 characters), sorting after those made before it. */
function partID(): string {
  const now = Date.now()
  if (now !== lastMs) {
    lastMs = now
    counter = 0
  }
  counter++
  const v = BigInt(now) * 0x1000n + BigInt(counter)
  let hex = ""
  for (let i = 0; i < 6; i++) hex += Number((v >> BigInt(40 - 8 * i)) & 0xffn).toString(16).padStart(2, "0")
  const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
  const random = crypto.getRandomValues(new Uint8Array(14))
  return "prt_" + hex + Array.from(random, (b) => digits[b % 62]).join("")
}
