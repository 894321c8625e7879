#!/usr/bin/env python3
"""Reference detection rules over the recorded screens (tests/screens/*/):
for each capture, what a doorbell would conclude: the input text (None when
no input line is found), whether that text is a placeholder, whether a
dialog or permission prompt shows (and its approve-once / deny keys), and
whether the runtime is busy. A sketch for the Rust code to follow, checked
against every fixture: `python3 tests/screens/rules.py` prints one line a
capture; `--check` exits 1 when a capture's state (from its file name)
disagrees with the rules.

Python 3 standard library only.
"""

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


# -- a capture as cells --------------------------------------------------

class Cell:
    __slots__ = ("ch", "dim", "reverse", "fg", "bg")

    def __init__(self, ch, dim, reverse, fg, bg):
        self.ch, self.dim, self.reverse, self.fg, self.bg = ch, dim, reverse, fg, bg


SGR = re.compile(r"\x1b\[([0-9;:]*)m")
OTHER_ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def parse_row(line, state):
    """The cells of one `capture-pane -p -e` row. tmux emits only attribute
    changes, so the SGR state carries over from row to row: `state` is the
    previous row's final (dim, reverse, fg, bg), and is updated."""
    cells = []
    dim, reverse, fg, bg = state
    i = 0
    while i < len(line):
        m = SGR.match(line, i)
        if m:
            params = [p for p in m.group(1).replace(":", ";").split(";")] or ["0"]
            j = 0
            while j < len(params):
                p = params[j] or "0"
                if p == "0":
                    dim = reverse = False
                    fg = bg = None
                elif p == "2":
                    dim = True
                elif p == "22":
                    dim = False
                elif p == "7":
                    reverse = True
                elif p == "27":
                    reverse = False
                elif p == "39":
                    fg = None
                elif p == "49":
                    bg = None
                elif p in ("38", "48") and j + 1 < len(params):
                    n = 3 if params[j + 1] == "5" else 5
                    value = ";".join(params[j : j + n])
                    if p == "38":
                        fg = value
                    else:
                        bg = value
                    j += n - 1
                elif p.isdigit() and (30 <= int(p) <= 37 or 90 <= int(p) <= 97):
                    fg = p
                elif p.isdigit() and (40 <= int(p) <= 47 or 100 <= int(p) <= 107):
                    bg = p
                j += 1
            i = m.end()
            continue
        m = OTHER_ESC.match(line, i)
        if m:
            i = m.end()
            continue
        cells.append(Cell(line[i], dim, reverse, fg, bg))
        i += 1
    state[:] = [dim, reverse, fg, bg]
    return cells


def text(cells):
    return "".join(c.ch for c in cells)


# -- per-runtime rules ---------------------------------------------------

def claude(rows, meta):
    """Claude Code 2.1.328 (and tests/tmux/fake_agent.py)."""
    plain = [text(r) for r in rows]
    width = meta["width"]
    is_rule = [p.strip() != "" and set(p.rstrip()) == {"─"} and len(p.rstrip()) >= width - 1 for p in plain]
    box = None
    # The input box: the last pair of full-width rules whose first inner row
    # starts "❯" + NO-BREAK SPACE with no background (past prompts in the
    # conversation have background 48;5;237 and no rules around them).
    for bottom in range(len(rows) - 1, 0, -1):
        if not is_rule[bottom]:
            continue
        top = next((t for t in range(bottom - 1, -1, -1) if is_rule[t]), None)
        if top is None or bottom - top < 2:
            continue
        first = rows[top + 1]
        if plain[top + 1].startswith("❯\u00a0") and first and first[0].bg is None:
            box = (top, bottom)
        break
    joined = "\n".join(plain)
    dialog = None
    if "Do you want to proceed?" in joined or re.search(r"^ Do you want to (create|make this edit to|overwrite) ", joined, re.M):
        options = re.findall(r"^ (?:❯| ) (?:(\d+)\. )?(.+?)\s*$", joined[joined.rfind("Do you want") :], re.M)
        options = [(n, label) for n, label in options if label and not label.startswith("Esc to cancel")]
        approve = next((n or "Down+Enter" for n, label in options if label == "Yes"), None)
        deny = next((n for n, label in options if label == "No"), None)
        if approve and not options[0][0]:
            # "❯ No / Yes" without numbers (auto mode, classifier unreachable):
            # the highlight starts on No; digits do nothing.
            approve = "Down, then Enter" if options[0][1] == "No" else "Enter"
        dialog = {"approve": approve, "deny": deny or "Escape", "options": [o[1] for o in options]}
    elif box is None and re.search(r"Enter to [a-z].* · Esc to cancel", joined):
        dialog = {"approve": None, "deny": "Escape", "options": []}
    if box is None:
        return {"input": None, "dialog": dialog or {"approve": None, "deny": None, "options": []}, "busy": None}
    top, bottom = box
    lines = []
    placeholder = False
    for n, r in enumerate(rows[top + 1 : bottom]):
        cells = r[2:]  # "❯" + NBSP, or the continuation's two spaces
        # A reverse-video cell is the drawn cursor: a space at the end, or
        # the placeholder's first letter when dim text follows it.
        if cells and any(c.dim and c.ch.strip() for c in cells):
            rev = next((k for k, c in enumerate(cells) if c.reverse), None)
            visible = [c for k, c in enumerate(cells) if not c.dim and k != rev]
            if n == 0 and not text(visible).strip():
                placeholder = True
                cells = []
        lines.append(text(cells).rstrip())
    typed = "\n".join(lines).rstrip()
    title = meta["pane_title"]
    footer = plain[bottom + 1] if bottom + 1 < len(plain) else ""
    spinner = any(re.match(r"^[·✢*✶✻✽] \S[^…]*…", p) for p in plain[max(0, top - 3) : top])
    busy = title[:1] in "◐◓◑◒" or "esc to interrupt" in footer or spinner
    return {"input": typed, "placeholder": placeholder, "dialog": dialog, "busy": busy}


def codex(rows, meta):
    """Codex 0.169.0: the composer row starts "›" (bold) with no
    background; past prompts have background 48;5;238."""
    plain = [text(r) for r in rows]
    joined = "\n".join(plain)
    title = meta["pane_title"]
    if "Would you like to run the following command?" in joined or "Action Required" in title:
        return {"input": None, "dialog": {"approve": "y", "deny": "n or Escape", "options": re.findall(r"^ *›? ?(\d+\. .*?)\s*$", joined, re.M)}, "busy": None}
    composer = None
    for n in range(len(rows) - 1, -1, -1):
        if plain[n].startswith("› ") and rows[n][0].bg is None:
            composer = n
            break
    if composer is None:
        return {"input": None, "dialog": None, "busy": None}
    lines, placeholder = [], False
    cells = rows[composer][2:]
    if cells and all(c.dim for c in cells if c.ch.strip()):
        placeholder = True
    else:
        lines.append(text(cells).rstrip())
        for r in rows[composer + 1 :]:
            if not text(r).startswith("  ") or not text(r).strip() or text(r).startswith("  gpt"):
                break
            lines.append(text(r[2:]).rstrip())
    busy = bool(re.match(r"^[⠀-⣿] ", title)) or any(re.search(r"Working.*esc to interrupt", p) for p in plain)
    return {"input": "\n".join(lines).rstrip(), "placeholder": placeholder, "dialog": None, "busy": busy}


def gemini(rows, meta):
    """Gemini CLI 0.61.0: the input is the last " > " row with background
    48;5;240 above the footer; placeholder in 38;5;248, typed text 38;5;231."""
    plain = [text(r) for r in rows]
    joined = "\n".join(plain)
    title = meta["pane_title"]
    if "Allow execution of" in joined or "Action Required" in title:
        return {"input": None, "dialog": {"approve": "1", "deny": "Escape"}, "busy": None}
    prompt = None
    for n in range(len(rows) - 1, -1, -1):
        if plain[n].startswith(" > ") and len(rows[n]) > 1 and rows[n][0].bg == "48;5;240":
            prompt = n
            break
    if prompt is None:
        return {"input": None, "dialog": None, "busy": None}
    lines, placeholder = [], False
    for r in rows[prompt:]:
        t = text(r)
        if r is not rows[prompt] and not t.startswith("   "):
            break
        cells = r[3:]
        if r is rows[prompt] and all(c.fg == "38;5;248" for c in cells if c.ch.strip() and not c.reverse):
            placeholder = True
            break
        lines.append(text(cells).rstrip())
    busy = title.startswith("✦") or "esc to cancel" in joined
    return {"input": "\n".join(lines).rstrip(), "placeholder": placeholder, "dialog": None, "busy": busy}


def opencode(rows, meta):
    """OpenCode 1.18.33: full-screen; the input box rows start "  ┃" with
    the border in 38;5;75 and background 48;5;234; permission prompts turn
    the border 38;5;215 and show "△ Permission required"."""
    plain = [text(r) for r in rows]
    joined = "\n".join(plain)
    if "Permission required" in joined:
        return {"input": None, "dialog": {"approve": "Enter (Allow once is highlighted first)", "deny": "Right Right Enter"}, "busy": None}
    # The input box ends in the last "╹▀▀▀…" row; above it, the "┃" rows:
    # a padding row, the input rows, a padding row, the agent · model row.
    # (Past prompts in the conversation have the same "┃" border, but no
    # "╹▀" row under them.)
    ends = [n for n, p in enumerate(plain) if p.lstrip().startswith("╹▀")]
    if not ends:
        return {"input": None, "dialog": None, "busy": None}
    start = ends[-1]
    while start > 0 and plain[start - 1].lstrip().startswith("┃"):
        start -= 1
    inner = rows[start + 1 : ends[-1] - 2]
    col = plain[start].index("┃") + 3
    lines, placeholder = [], False
    for r in inner:
        cells = r[col : col + 150]
        visible = [c for c in cells if c.ch.strip()]
        if visible and all(c.fg == "38;5;8" for c in visible):
            placeholder = True
            continue
        lines.append(text(cells).strip())
    busy = "esc interrupt" in joined
    return {"input": "\n".join(l for l in lines if l).strip(), "placeholder": placeholder, "dialog": None, "busy": busy}


RULES = {"claude": claude, "fake": claude, "codex": codex, "gemini": gemini, "opencode": opencode}


def analyse(path):
    state = [False, False, None, None]
    rows = [parse_row(l, state) for l in path.read_text(encoding="utf-8").split("\n")]
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    return RULES[path.parent.name](rows, meta)


def expected(state):
    """What the file name says: (input, dialog, busy) or None to skip."""
    if state.startswith(("permission", "dialog")):
        return ("dialog",)
    if state.startswith("busy-typed"):
        return ("hello wor", True)
    if state.startswith("busy"):
        return ("", True)
    if state.startswith("typed-multiline"):
        return ("first line\nhello wor", False)
    if state.startswith("typed"):
        return ("hello wor", False)
    if state.startswith("idle"):
        return ("", False)
    return None


def main():
    check = "--check" in sys.argv
    bad = 0
    for path in sorted(HERE.glob("*/*.ansi")):
        r = analyse(path)
        state = path.stem
        want = expected(state)
        ok = ""
        if want == ("dialog",):
            ok = "ok" if r["dialog"] else "WRONG"
        elif want is not None:
            ok = "ok" if (r["input"], bool(r["busy"])) == want and not r["dialog"] else "WRONG"
        bad += ok == "WRONG"
        print("%-9s %-22s %-5s %s" % (path.parent.name, state, ok, json.dumps(r, ensure_ascii=False)))
    if check and bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
