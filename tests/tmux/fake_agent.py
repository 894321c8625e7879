#!/usr/bin/env python3
"""A fake agent terminal program for tmux tests: it draws a screen shaped like
Claude Code 2.1.328's (manual permission mode) so that the rules that read the
recorded Claude Code screens (tests/screens/claude/) read it the same way, and
it logs every key it gets, so a test can prove what reached it and when.

Usage: fake_agent.py --control PATH --log PATH [--no-title] [--title TEXT]
                     [--placeholder TEXT | --no-placeholder]

Python 3 standard library only. Run it as a tmux pane's command.

The screen (rows counted from 0 on a H-row pane; compare
tests/screens/claude/idle-manual.ansi and tests/screens/fake/):
- the alternate screen, cursor hidden (as Claude Code: tmux reports
  alternate_on=1, cursor_flag=0), but the cursor is still moved to the
  input's end, so tmux's cursor_x/cursor_y match Claude Code's;
- a three-line header, then the conversation: each submitted text as
  `ESC[48;5;237m❯ ESC[38;5;231mTEXT` (grey background, as Claude Code draws
  past prompts: a prompt-looking line that is NOT the input), then a blank
  line;
- the input box at the bottom: row H-4 and row H-2 are rules
  (`ESC[38;5;244m` + "─" × width), row H-3 the input line:
  `❯` U+276F, then a NO-BREAK SPACE (U+00A0), then the typed text in the
  default colour and a reverse-video cell (`ESC[7m ESC[0m`) as the visible
  cursor. Empty: "❯\\u00a0" + reverse-video space, or, with a placeholder
  (default `Try "how does <filepath> work?"`, Claude Code's first-prompt
  hint), its first character in reverse video and the rest dim:
  `ESC[7mT ESC[0;2m ry "how does…"` (no spaces in the real bytes). Claude
  Code shows that hint only before the session's first prompt, and only
  with prompt suggestions on; the fake shows it whenever the input is empty
  (`--no-placeholder`: never). While busy the `❯ ` is grey
  (`ESC[38;5;246m`);
- row H-1, the footer: `  ⏸ manual mode on · ? for shortcuts`; while busy
  `· esc to interrupt` instead of `· ? for shortcuts`, and nothing after
  "manual mode on" when busy with text typed;
- busy: row H-7 a spinner line, `✶ Working…` in `ESC[38;5;174m`, its glyph
  stepping every 100 ms through · ✢ * ✶ ✻ ✽ and back (as Claude Code's),
  row H-6 `  ⎿  Tip: …` in grey;
- the terminal title (OSC 0): "✳ Claude Code" idle, "◐ Claude Code" and
  "◑ Claude Code" alternating every second while busy. While the dialog
  shows the title is the idle one, as Claude Code's was during its
  permission prompts. `--title TEXT` replaces "Claude Code";
  `--no-title` sets no title at all;
- the dialog (Claude Code's Bash permission prompt) replaces the input box
  and the spinner, bottom-anchored, its last line at row H-2:
  a rule in `ESC[38;5;153m`, " Bash command", a grey description, the
  command between dashed (╌) lines, " Do you want to proceed?",
  " ❯ 1. Yes" (highlighted: ❯ and the label in `ESC[38;5;153m`, "1. " grey),
  "   2. No", a blank line, " Esc to cancel · Tab to amend". The cursor is
  moved onto the highlighted option's ❯ (column 1). (Claude Code 2.1.328
  shows three or four options, the "always allow" ones between Yes and No;
  the fake keeps the two a doorbell may press: 1 = Yes, the last = No.)

Keys (raw mode; tmux key names in the log):
- every key is logged first: {"t": time.time(), "event": "key", "key":
  "<the character, or a name: Enter, BSpace, Escape, Tab, BTab, Up, Down,
  Left, Right, Home, End, DC, C-a … C-z, or esc:<sequence>>",
  "dialog": <dialog showing>, "busy": <busy>};
- no dialog: printable characters go into the input (also while busy: Claude
  Code lets you type ahead); BSpace deletes the last one; C-u clears the
  input; Enter with text appends {"t", "event": "submit", "text", "busy"},
  clears the input and adds the text to the conversation (Enter on an empty
  input does nothing else);
- dialog showing: `1` logs {"t", "event": "dialog_answer", "option": 1} and
  closes it, `2` likewise with option 2; Escape logs {"t", "event":
  "escape"} and closes it; Enter answers the highlighted option (1 unless
  moved). As in Claude Code, Up/Down and `k`/`j` move the highlight (so
  typed text holding j or k changes what a later Enter answers); every
  other key is only logged: it reaches neither the input nor the dialog.

Control: --control PATH is polled every 50 ms for newly appended lines (the
file may not exist yet; a line counts once it ends in a newline):
`busy on`, `busy off`, `dialog on` (or `dialog on COMMAND`: the command
the dialog asks about, default `touch fake-agent-was-here`), `dialog off`
(closes it without an answer), `quit`. Each applied command is logged as {"t", "event":
"control", "command"}. Unknown lines are logged as {"event": "control",
"command", "unknown": true} and ignored.

Log: --log PATH, one JSON object a line, appended and flushed at once. The
first line is {"t", "event": "start", "pid", "width", "height"}; the last,
on quit, SIGTERM or SIGHUP, {"t", "event": "exit"}.

SIGWINCH redraws for the new size. On exit the terminal's settings are
restored, the alternate screen left and the cursor shown again.
"""

import argparse
import json
import os
import select
import signal
import sys
import termios
import time
import tty

SPINNER = ["·", "✢", "*", "✶", "✻", "✽"]
SPINNER_CYCLE = SPINNER + SPINNER[-2:0:-1]  # ping-pong, as Claude Code's
TITLE_BUSY = ["◐", "◑"]
TITLE_IDLE = "✳"
RULE = "\x1b[38;5;244m"
GREY = "\x1b[38;5;246m"
ACCENT = "\x1b[38;5;174m"
DIALOG = "\x1b[38;5;153m"
DASH = "\x1b[38;5;239m"
RESET = "\x1b[0m"
NBSP = "\u00a0"
DEFAULT_COMMAND = "touch fake-agent-was-here"

KEY_NAMES = {
    "\r": "Enter",
    "\n": "Enter",
    "\x7f": "BSpace",
    "\x08": "BSpace",
    "\t": "Tab",
    "\x1b": "Escape",
}
ESC_NAMES = {
    "[A": "Up",
    "[B": "Down",
    "[C": "Right",
    "[D": "Left",
    "OA": "Up",
    "OB": "Down",
    "OC": "Right",
    "OD": "Left",
    "[H": "Home",
    "[F": "End",
    "OH": "Home",
    "OF": "End",
    "[1~": "Home",
    "[4~": "End",
    "[3~": "DC",
    "[Z": "BTab",
    "[5~": "PPage",
    "[6~": "NPage",
}


class Fake:
    def __init__(self, args):
        self.args = args
        self.log_file = open(args.log, "a", encoding="utf-8")
        self.input = ""
        self.history = []
        self.busy = False
        self.busy_since = 0.0
        self.dialog = False
        self.command = DEFAULT_COMMAND
        self.highlight = 1
        self.quit = False
        self.resized = True
        self.frame = []
        self.title = None
        self.control_pos = 0
        self.control_rest = b""
        self.width, self.height = self.size()

    # -- output ---------------------------------------------------------

    def log(self, event, **fields):
        record = {"t": time.time(), "event": event}
        record.update(fields)
        self.log_file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.log_file.flush()

    @staticmethod
    def size():
        try:
            s = os.get_terminal_size(sys.stdout.fileno())
            return max(s.columns, 20), max(s.lines, 12)
        except OSError:
            return 80, 24

    def write(self, text):
        data = text.encode("utf-8")
        while data:
            n = os.write(sys.stdout.fileno(), data)
            data = data[n:]

    def set_title(self, text):
        if self.args.no_title or not self.args.title or text == self.title:
            return
        self.title = text
        self.write("\x1b]0;%s\x07" % text)

    # -- drawing --------------------------------------------------------

    def fit(self, text):
        """Clips plain text to the width (every character one cell)."""
        return text[: self.width]

    def rows(self):
        """The screen as H rows of text with escapes, and the cursor."""
        w, h = self.width, self.height
        rows = [""] * h
        rows[1] = ACCENT + " ▐▛███▜▌" + "\x1b[39m   \x1b[1mfake agent" + RESET + GREY + " imitating Claude Code 2.1.328"
        rows[2] = ACCENT + "▝▜█████▛▘" + "\x1b[39m  " + GREY + "tests/tmux/fake_agent.py"
        rows[3] = ACCENT + "  ▘▘ ▝▝  " + "\x1b[39m  " + GREY + os.getcwd()[: max(0, w - 12)]
        conversation = []
        for text in self.history:
            conversation.append("\x1b[48;5;237m❯ \x1b[38;5;231m" + self.fit(text)[: w - 2] + "\x1b[39m\x1b[49m")
            conversation.append("")
        if self.dialog:
            block, cursor_row = self.dialog_rows()
            top = h - 1 - len(block)  # the last line on row H-2
            room = max(0, top - 5)
            conversation = conversation[-room:] if room else []
            for i, line in enumerate(conversation):
                rows[5 + i] = line
            for i, line in enumerate(block):
                if 0 <= top + i < h:
                    rows[top + i] = line
            return rows, (1, top + cursor_row)
        room = max(0, h - 7 - 5 - 1)
        conversation = conversation[-room:] if room else []
        for i, line in enumerate(conversation):
            rows[5 + i] = line
        if self.busy:
            step = int((time.monotonic() - self.busy_since) / 0.1) % len(SPINNER_CYCLE)
            rows[h - 7] = ACCENT + SPINNER_CYCLE[step] + "\x1b[39m " + ACCENT + "Working…" + "\x1b[39m"
            rows[h - 6] = GREY + "  ⎿  Tip: this is tests/tmux/fake_agent.py, not Claude Code"
        rows[h - 4] = RULE + "─" * w
        rows[h - 2] = RULE + "─" * w
        prompt = (GREY + "❯" + NBSP + "\x1b[39m") if self.busy else ("\x1b[39m❯" + NBSP)
        text = self.input[: max(0, w - 3)]
        if text:
            line = prompt + text + "\x1b[7m \x1b[0m"
        elif self.args.placeholder:
            hint = self.args.placeholder[: max(1, w - 3)]
            line = prompt + "\x1b[7m" + hint[0] + "\x1b[0;2m" + hint[1:] + RESET
        else:
            line = prompt + "\x1b[7m \x1b[0m"
        rows[h - 3] = line
        footer = "  " + GREY + "⏸ manual mode on"
        if self.busy and not self.input:
            footer += " · esc to interrupt"
        elif not self.busy:
            footer += " · ? for shortcuts"
        rows[h - 1] = footer
        return rows, (2 + len(text), h - 3)

    def dialog_rows(self):
        """Claude Code's Bash permission prompt, and the highlighted
        option's row within it."""
        w = self.width
        block = [
            DIALOG + "─" * w,
            " \x1b[1m" + DIALOG + "Bash command" + RESET,
            " " + GREY + "Run a scripted command",
            DASH + "╌" * w,
            "\x1b[39m " + self.command,
            DASH + "╌" * w,
            "\x1b[39m Do you want to proceed?",
        ]
        labels = ["Yes", "No"]
        cursor_row = 0
        for n, label in enumerate(labels, 1):
            if n == self.highlight:
                cursor_row = len(block)
                block.append(" " + DIALOG + "❯\x1b[39m " + GREY + "%d. " % n + DIALOG + label + "\x1b[39m")
            else:
                block.append("   " + GREY + "%d. " % n + "\x1b[39m" + label)
        block.append("")
        block.append(" " + GREY + "Esc to cancel · Tab to amend" + "\x1b[39m")
        return block, cursor_row

    def draw(self):
        if self.resized:
            self.width, self.height = self.size()
            self.frame = []
            self.write("\x1b[0m\x1b[2J")
            self.resized = False
        rows, (cx, cy) = self.rows()
        out = []
        for i, row in enumerate(rows):
            if i < len(self.frame) and self.frame[i] == row:
                continue
            out.append("\x1b[%d;1H\x1b[0m\x1b[2K%s\x1b[0m" % (i + 1, row))
        self.frame = rows
        cursor = (min(cy, self.height - 1) + 1, min(cx, self.width - 1) + 1)
        # Like Claude Code, an idle screen writes nothing at all (tmux's
        # window_activity then stays still).
        if out or cursor != getattr(self, "cursor", None):
            self.cursor = cursor
            self.write("\x1b[?25l" + "".join(out) + "\x1b[%d;%dH" % cursor)
        if self.busy and not self.dialog:
            glyph = TITLE_BUSY[int((time.monotonic() - self.busy_since) / 1.0) % len(TITLE_BUSY)]
        else:
            glyph = TITLE_IDLE
        self.set_title("%s %s" % (glyph, self.args.title))

    # -- input ----------------------------------------------------------

    def keys(self, data):
        """Splits decoded input into keys: characters, or escape sequences."""
        i = 0
        while i < len(data):
            c = data[i]
            if c == "\x1b" and i + 1 < len(data) and data[i + 1] in "[O":
                j = i + 2
                while j < len(data) and not (data[j].isalpha() or data[j] == "~"):
                    j += 1
                seq = data[i + 1 : j + 1]
                yield ESC_NAMES.get(seq, "esc:" + seq)
                i = j + 1
            elif c == "\x1b" and i + 1 < len(data):
                # Meta: ESC then a key.
                yield "M-" + data[i + 1]
                i += 2
            else:
                if c in KEY_NAMES:
                    yield KEY_NAMES[c]
                elif ord(c) < 32:
                    yield "C-" + chr(ord(c) + 96)
                else:
                    yield c
                i += 1

    def key(self, k):
        self.log("key", key=k, dialog=self.dialog, busy=self.busy)
        if self.dialog:
            if k in ("1", "2"):
                self.answer(int(k))
            elif k == "Enter":
                self.answer(self.highlight)
            elif k == "Escape":
                self.log("escape")
                self.dialog = False
            elif k in ("Up", "k"):
                self.highlight = max(1, self.highlight - 1)
            elif k in ("Down", "j"):
                self.highlight = min(2, self.highlight + 1)
            return
        if k == "Enter":
            if self.input:
                self.log("submit", text=self.input, busy=self.busy)
                self.history.append(self.input)
                self.input = ""
        elif k == "BSpace":
            self.input = self.input[:-1]
        elif k == "C-u":
            self.input = ""
        elif len(k) == 1 and k.isprintable():
            self.input += k

    def answer(self, option):
        self.log("dialog_answer", option=option)
        self.dialog = False
        self.highlight = 1

    # -- control --------------------------------------------------------

    def poll_control(self):
        try:
            with open(self.args.control, "rb") as f:
                f.seek(self.control_pos)
                data = f.read()
        except FileNotFoundError:
            return
        if not data:
            return
        self.control_pos += len(data)
        data = self.control_rest + data
        *lines, self.control_rest = data.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            if line == "busy on":
                if not self.busy:
                    self.busy_since = time.monotonic()
                self.busy = True
            elif line == "busy off":
                self.busy = False
            elif line == "dialog on" or line.startswith("dialog on "):
                if not self.dialog:
                    self.highlight = 1
                self.dialog = True
                self.command = line[len("dialog on ") :].strip() or DEFAULT_COMMAND
            elif line == "dialog off":
                self.dialog = False
            elif line == "quit":
                self.quit = True
            else:
                self.log("control", command=line, unknown=True)
                continue
            self.log("control", command=line)

    # -- main loop ------------------------------------------------------

    def run(self):
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        decoder = __import__("codecs").getincrementaldecoder("utf-8")("replace")

        def on_winch(*_):
            self.resized = True

        def on_term(*_):
            self.quit = True

        signal.signal(signal.SIGWINCH, on_winch)
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGHUP, on_term)
        try:
            tty.setraw(fd)
            self.write("\x1b[?1049h\x1b[?25l")
            self.log("start", pid=os.getpid(), width=self.width, height=self.height)
            next_poll = 0.0
            while not self.quit:
                now = time.monotonic()
                if now >= next_poll:
                    self.poll_control()
                    next_poll = now + 0.05
                if self.quit:
                    break
                self.draw()
                ready, _, _ = select.select([fd], [], [], 0.05)
                if ready:
                    data = os.read(fd, 4096)
                    if not data:
                        break
                    text = decoder.decode(data)
                    # A lone ESC may be the start of a sequence split across
                    # reads: wait briefly for the rest.
                    if text.endswith("\x1b") and select.select([fd], [], [], 0.03)[0]:
                        text += decoder.decode(os.read(fd, 4096))
                    for k in self.keys(text):
                        self.key(k)
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
            self.write("\x1b[0m\x1b[?25h\x1b[?1049l")
            self.log("exit")
            self.log_file.close()


def main():
    p = argparse.ArgumentParser(description="A fake agent terminal program for tmux tests (see the module docstring).")
    p.add_argument("--control", required=True, help="file polled every 50 ms for commands")
    p.add_argument("--log", required=True, help="JSON-lines log of keys, submits, answers")
    p.add_argument("--title", default="Claude Code", help='title text after the state glyph ("" sets no title)')
    p.add_argument("--no-title", action="store_true", help="never set the terminal title")
    p.add_argument("--placeholder", default='Try "how does <filepath> work?"', help="dim hint in the empty input")
    p.add_argument("--no-placeholder", dest="placeholder", action="store_const", const="", help="no hint")
    args = p.parse_args()
    if not sys.stdin.isatty():
        sys.exit("fake_agent.py needs a terminal (run it in a tmux pane)")
    Fake(args).run()


if __name__ == "__main__":
    main()
