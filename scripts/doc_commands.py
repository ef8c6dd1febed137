#!/usr/bin/python3
"""Runs every shell command that README.md and docs/*.md show, and checks
what they print where the docs show output, so that the docs cannot drift
from the code (issue 14). ctest runs it as test_docs.

Usage: scripts/doc_commands.py [--bin DIR] [--shared DIR] [--timeout S]
                               [--keep-going] [--keep] [--list] [FILE.md ...]
       scripts/doc_commands.py --output-of FILE.md COMMAND OUTPUT.txt

How the docs write commands (one convention, checked):

  ```sh            commands, run in order. A command may span lines (a
                   trailing backslash, a here-document, if/for): lines are
                   joined until bash finds the text complete (bash -n).
  ```text          right after a ```sh block (only blank lines or doc-check
                   comments between): what that block prints, stdout and
                   stderr together. Anywhere else: plain text, not run.
  <!-- doc-check: skip (REASON) -->     before a ```sh block: not run; the
                   reason is required (e.g. "run by .ci/run").
  <!-- doc-check: timeout SECONDS -->   before a ```sh block: each of its
                   commands may take that long (default --timeout, 120 s).
  <!-- doc-check: output of COMMAND --> before a ```text block anywhere in
                   the document: the output of COMMAND, a command of a ```sh
                   block of the same document (compared when it runs, or by
                   --output-of when something else runs it, e.g. .ci/run).
  ```bash, ```shell, ```console, or "$ " prompts in a bare ``` block are
  refused: write ```sh. Other languages (```c, ```cmake) are not run.

The output rule: every non-blank line of the doc's output block must match
a line of the real output, in the same order; the real output may have
other lines between and around them. Runs of blanks compare equal, and
"..." (or "…") in a doc line matches any text, so a figure that varies
from run to run is written as "...". A doc line of "..." alone is a
reader's hint and matches nothing in particular.

How the commands run: each document in a fresh copy of the repository's
tracked files (as a fresh checkout has them), beside a `shared` link to
the shared test material (the README's `../shared`), with `build/bin` a
link to the binaries of the build under test and that directory first on
PATH. Each command starts in the copy's root in its own bash (-e -o
pipefail; a `cd` lasts for that command only), with stdin from /dev/null
and a timeout. A command ending in `&` (a server) keeps running until the
document's last command is done; then it is stopped. The first failing
command of a document ends that document (--keep-going: run the rest);
failures are reported as FILE:LINE with the command's output. Exit status
1 if any command failed or any output differed, 2 on a malformed document.
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

DEFAULT_TIMEOUT = 120
SHOWN_LINES = 60  # lines of a failing command's output in the report

MARKER = re.compile(r"^\s*<!--\s*doc-check:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([^\s`]*)\s*$")
REFUSED_LANGS = {"bash", "shell", "console", "shell-session", "zsh"}


class DocError(Exception):
    """A document that does not follow the convention (exit status 2)."""


class Block:
    def __init__(self, path, line, lang, lines, markers):
        self.path = path          # document, relative to the repository
        self.line = line          # line of the opening fence (1-based)
        self.lang = lang
        self.lines = lines        # [(line number, text)] inside the fence
        self.markers = markers    # [(line number, directive)] just before it
        self.skip = None          # reason, for a skipped ```sh block
        self.timeout = None
        self.output = None        # the ```text block showing its output
        self.output_of = None     # ```text: the command it is the output of
        self.commands = []        # ```sh: [(line number, text)]


def parse_markers(block):
    """Reads the doc-check directives before a block."""
    for ln, directive in block.markers:
        where = f"{block.path}:{ln}"
        m = re.fullmatch(r"skip\s*\((.*)\)", directive)
        if m:
            if not m.group(1).strip():
                raise DocError(f"{where}: doc-check skip needs a reason: skip (REASON)")
            if block.lang != "sh":
                raise DocError(f"{where}: doc-check skip only applies to a ```sh block")
            block.skip = m.group(1).strip()
            continue
        m = re.fullmatch(r"timeout\s+(\d+)", directive)
        if m:
            if block.lang != "sh":
                raise DocError(f"{where}: doc-check timeout only applies to a ```sh block")
            block.timeout = int(m.group(1))
            continue
        m = re.fullmatch(r"output of\s+(.+)", directive)
        if m:
            if block.lang != "text":
                raise DocError(f"{where}: doc-check output of ... only applies to a ```text block")
            block.output_of = m.group(1).strip()
            continue
        if directive.startswith("skip"):
            raise DocError(f"{where}: write doc-check skip (REASON), with the reason in parentheses")
        raise DocError(f"{where}: unknown doc-check directive '{directive}' "
                       "(skip (REASON), timeout SECONDS, output of COMMAND)")


def split_commands(block):
    """Joins a ```sh block's lines into commands, asking bash when the text
    so far is a complete command."""
    commands, text, first = [], "", None
    for ln, line in block.lines:
        if first is None:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            first = ln
        text += line + "\n"
        if line.rstrip().endswith("\\"):
            continue
        check = subprocess.run(["bash", "-n", "-c", text], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        if check.returncode == 0 and "here-document" not in check.stderr:
            commands.append((first, text.rstrip("\n")))
            text, first = "", None
    if first is not None:
        raise DocError(f"{block.path}:{first}: this command does not end (bash -n: "
                       f"{check.stderr.strip() or 'continued past the end of the block'})")
    return commands


def parse(root, path):
    """The blocks of one document, markers read and outputs attached."""
    with open(os.path.join(root, path), encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks, markers, i, last_sh = [], [], 0, None
    # last_sh: the latest ```sh block, while only blank lines and markers follow it
    while i < len(lines):
        line = lines[i]
        m = MARKER.match(line)
        if m:
            markers.append((i + 1, m.group(1)))
            i += 1
            continue
        f = FENCE.match(line)
        if not f:
            if line.strip():
                if markers:
                    raise DocError(f"{path}:{markers[0][0]}: a doc-check comment must come "
                                   "right before a fenced block")
                last_sh = None
            i += 1
            continue
        indent, fence, lang = f.groups()
        body, j = [], i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence[0] * len(fence))
                                      and lines[j].strip().strip(fence[0]) == ""):
            body.append((j + 1, lines[j][len(indent):] if lines[j].startswith(indent) else lines[j]))
            j += 1
        if j == len(lines):
            raise DocError(f"{path}:{i + 1}: this fenced block is never closed")
        block = Block(path, i + 1, lang, body, markers)
        markers = []
        if lang in REFUSED_LANGS:
            raise DocError(f"{path}:{i + 1}: write commands in a ```sh block (and their output "
                           f"in a ```text block after it), not ```{lang}")
        if lang == "" and any(t.startswith("$ ") for _, t in body):
            raise DocError(f"{path}:{i + 1}: a block with '$ ' prompts: write the commands in a "
                           "```sh block and their output in a ```text block after it")
        parse_markers(block)
        if lang == "sh":
            block.commands = split_commands(block)
        if lang == "text" and last_sh is not None and block.output_of is None:
            last_sh.output = block
        blocks.append(block)
        last_sh = block if lang == "sh" else None
        i = j + 1
    if markers:
        raise DocError(f"{path}:{markers[0][0]}: a doc-check comment with no block after it")
    # "output of COMMAND" blocks belong to that command's block
    for block in blocks:
        if block.output_of is None:
            continue
        owner = find_command(blocks, block.output_of)
        if owner is None:
            raise DocError(f"{path}:{block.markers[0][0]}: no ```sh block of {path} runs "
                           f"'{block.output_of}'")
        block.owner = owner
    return blocks


def words(command):
    try:
        return shlex.split(command, comments=True)
    except ValueError:
        return command.split()


def find_command(blocks, command):
    want = words(command)
    for block in blocks:
        for ln, text in block.commands:
            if words(text) == want:
                return block, ln
    return None


# ---------------------------------------------------------------- output

def normalise(line):
    return " ".join(line.split())


def line_pattern(expected):
    parts = re.split(r"\.\.\.|…", normalise(expected))
    return re.compile(".*".join(re.escape(p) for p in parts))


def compare_output(expected_block, actual):
    """None if every expected line appears in order, else a message."""
    got = [normalise(l) for l in re.split(r"\r\n|\r|\n", actual)]
    pos, last_match = 0, None
    for ln, line in expected_block.lines:
        if not line.strip() or normalise(line) in ("...", "…"):
            continue
        pat = line_pattern(line)
        k = pos
        while k < len(got) and not pat.fullmatch(got[k]):
            k += 1
        if k == len(got):
            where = f"after '{got[last_match]}'" if last_match is not None else "anywhere"
            seen = any(pat.fullmatch(g) for g in got)
            hint = " (it is there, but before a line the doc shows above it)" if seen else ""
            return (f"{expected_block.path}:{ln}: the doc shows\n    {line.strip()}\n"
                    f"  which the command did not print {where}{hint}")
        last_match, pos = k, k + 1
    return None


# ---------------------------------------------------------------- running

def tracked_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        return [p for p in out.decode().split("\0") if p]
    except (subprocess.CalledProcessError, FileNotFoundError):
        files = []
        for d, dirs, names in os.walk(root):
            rel = os.path.relpath(d, root)
            dirs[:] = [x for x in dirs if not (rel == "." and (x.startswith("build") or x == ".git"))]
            files += [os.path.normpath(os.path.join(rel, n)) for n in names]
        return files


def fresh_copy(root, files, dest, bindir):
    for rel in files:
        src = os.path.join(root, rel)
        if not os.path.lexists(src):
            continue  # deleted in the working tree
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    os.makedirs(os.path.join(dest, "build"), exist_ok=True)
    os.symlink(bindir, os.path.join(dest, "build", "bin"))


def stop_group(pgid):
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + wait
        while time.monotonic() < end:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def run_command(text, cwd, env, timeout, log_path):
    """Runs one command; returns (exit status or None on timeout, output,
    seconds, process group still alive or None)."""
    start = time.monotonic()
    with open(log_path, "wb") as log:
        p = subprocess.Popen(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", text],
                             cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            status = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            status = None
            for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, None)):
                try:
                    os.killpg(p.pid, sig)
                    p.wait(timeout=wait)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
            p.wait()
            stop_group(p.pid)  # whatever else it started
    seconds = time.monotonic() - start
    with open(log_path, "rb") as log:
        output = log.read().decode("utf-8", "replace")
    alive = p.pid
    try:
        os.killpg(alive, 0)
    except ProcessLookupError:
        alive = None
    return status, output, seconds, alive


def tail(output, n=SHOWN_LINES):
    lines = output.rstrip("\n").split("\n")
    cut = len(lines) - n
    shown = ("    [... %d lines]\n" % cut if cut > 0 else "") + "\n".join(
        "    " + l for l in lines[max(cut, 0):])
    return shown if output.strip() else "    (no output)"


def one_line(text):
    first = text.split("\n")[0]
    return first + (" ..." if "\n" in text else "")


def check_document(path, blocks, args, scratch, files, report):
    """Runs one document's commands; appends failures to report."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")
    workdir = os.path.join(scratch, slug)
    fresh_copy(args.root, files, workdir, args.bin)
    env = dict(os.environ)
    env["PATH"] = os.path.join(workdir, "build", "bin") + os.pathsep + env.get("PATH", "")
    env["MFL_SHARED_DIR"] = os.path.join(scratch, "shared")
    env.pop("TERM", None)
    groups, counts = [], {"run": 0, "skipped": 0}
    print(f"== {path} (in {workdir})", flush=True)
    output_of = {}  # (block, line) -> ```text block
    for b in blocks:
        if b.output_of is not None:
            output_of[(id(b.owner[0]), b.owner[1])] = b
    try:
        for block in blocks:
            if block.lang != "sh" or not block.commands:
                continue
            if block.skip is not None:
                counts["skipped"] += len(block.commands)
                for ln, text in block.commands:
                    print(f"{path}:{ln}: skip ({block.skip}): {one_line(text)}", flush=True)
                continue
            block_output, failed = "", False
            for ln, text in block.commands:
                timeout = block.timeout or args.timeout
                log = os.path.join(scratch, f"{slug}.{ln}.log")
                status, output, secs, alive = run_command(text, workdir, env, timeout, log)
                counts["run"] += 1
                if alive:
                    groups.append(alive)
                block_output += output
                if status != 0:
                    why = f"timed out after {timeout} s" if status is None else f"exit status {status}"
                    print(f"{path}:{ln}: FAIL ({why}, {secs:.1f} s): {one_line(text)}", flush=True)
                    report.append(f"{path}:{ln}: {why}: {one_line(text)}\n{tail(output)}")
                    failed = True
                    if args.keep_going:
                        continue
                    break
                own = output_of.get((id(block), ln))
                diff = compare_output(own, output) if own is not None else None
                print(f"{path}:{ln}: {'ok' if diff is None else 'OUTPUT DIFFERS'} "
                      f"({secs:.1f} s): {one_line(text)}", flush=True)
                if diff:
                    report.append(f"{diff}\n  output of {path}:{ln} ({one_line(text)}):\n{tail(output)}")
                    failed = True
                    if not args.keep_going:
                        break
            if not failed and block.output is not None:
                diff = compare_output(block.output, block_output)
                if diff:
                    print(f"{path}:{block.output.line}: OUTPUT DIFFERS", flush=True)
                    report.append(f"{diff}\n  output of the block at {path}:{block.line}:\n"
                                  f"{tail(block_output)}")
                    failed = True
            if failed and not args.keep_going:
                print(f"{path}: stopped at its first failure (--keep-going runs the rest)", flush=True)
                break
    finally:
        for g in groups:
            stop_group(g)
    return counts


def default_documents(root):
    docs = sorted(os.path.join("docs", n) for n in os.listdir(os.path.join(root, "docs"))
                  if n.endswith(".md"))
    return ["README.md"] + docs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("documents", nargs="*", help="documents (default: README.md and docs/*.md)")
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="the repository (default: this script's)")
    ap.add_argument("--bin", help="the build's binaries (default: ROOT/build/bin)")
    ap.add_argument("--shared", help="shared test material (default: $MFL_SHARED_DIR or ROOT/../shared)")
    ap.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                    help=f"seconds per command (default {DEFAULT_TIMEOUT})")
    ap.add_argument("--keep-going", action="store_true", help="run a document's commands past a failure")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--list", action="store_true", help="list the commands and exit")
    ap.add_argument("--output-of", nargs=3, metavar=("FILE.md", "COMMAND", "OUTPUT"),
                    help="compare OUTPUT (a file) with what FILE.md shows as COMMAND's output")
    args = ap.parse_args()
    args.root = os.path.abspath(args.root)

    try:
        if args.output_of:
            return output_of_mode(args)
        paths = args.documents or default_documents(args.root)
        paths = [os.path.relpath(os.path.abspath(p), args.root) if os.path.isabs(p) else p
                 for p in paths]
        documents = [(p, parse(args.root, p)) for p in paths]
    except DocError as e:
        print(f"doc-check: {e}", file=sys.stderr)
        return 2

    if args.list:
        for path, blocks in documents:
            for b in blocks:
                for ln, text in b.commands:
                    state = f"skip ({b.skip})" if b.skip is not None else "run"
                    shown = " [output shown]" if b.output is not None else ""
                    print(f"{path}:{ln}: {state}{shown}: {one_line(text)}")
        return 0

    args.bin = os.path.abspath(args.bin or os.path.join(args.root, "build", "bin"))
    shared = args.shared or os.environ.get("MFL_SHARED_DIR") or os.path.join(args.root, "..", "shared")
    shared = os.path.abspath(shared)
    for what, d in (("binaries", args.bin), ("shared test material", shared)):
        if not os.path.isdir(d):
            print(f"doc-check: no {what} at {d}", file=sys.stderr)
            return 2

    scratch = tempfile.mkdtemp(prefix="mfl-doc-check-")
    os.symlink(shared, os.path.join(scratch, "shared"))
    files = tracked_files(args.root)
    report, total, start = [], {"run": 0, "skipped": 0}, time.monotonic()
    try:
        for path, blocks in documents:
            counts = check_document(path, blocks, args, scratch, files, report)
            for k in total:
                total[k] += counts[k]
    finally:
        if args.keep:
            print(f"doc-check: scratch directory kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"\ndoc-check: {total['run']} commands run, {total['skipped']} skipped, "
          f"{len(report)} failures, {time.monotonic() - start:.0f} s")
    if report:
        print("\n" + "\n\n".join(report))
        return 1
    return 0


def output_of_mode(args):
    path, command, output_file = args.output_of
    path = os.path.relpath(os.path.abspath(path), args.root)
    blocks = parse(args.root, path)
    owner = find_command(blocks, command)
    if owner is None:
        raise DocError(f"{path}: no ```sh block runs '{command}'")
    shown = [b for b in blocks if b.output_of is not None and b.owner == owner]
    sh, ln = owner
    if not shown and sh.output is not None and len(sh.commands) == 1:
        shown = [sh.output]
    if not shown:
        raise DocError(f"{path}:{ln}: the document shows no output of '{command}'")
    with open(output_file, encoding="utf-8", errors="replace") as f:
        actual = f.read()
    diff = compare_output(shown[0], actual)
    if diff:
        print(f"doc-check: {diff}\n  output of {path}:{ln} ({command}), from {output_file}:\n{tail(actual)}")
        return 1
    print(f"doc-check: {path}:{shown[0].line}: the output of '{command}' is as the document shows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
