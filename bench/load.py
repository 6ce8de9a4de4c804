"""Load test of the running web app: concurrent ``gradio_client`` sessions, a re-index mid-run.

    PYTHONPATH=src python bench/load.py                  # 20 sessions x 500 questions -> bench/load.md
    PYTHONPATH=src python bench/load.py --sessions 8 --total 80 --out /tmp/load.md

What it does, all on loopback and on private copies (the project's corpus and index are never touched):

1. copies the corpus and the current index generation (with its embedding cache) into a work folder;
2. picks stand-alone questions from ``eval/questions.jsonl`` whose in-process answer
   (``get_assistant(settings).ask``) is correct (``stiqa.evaluate.scoring.is_correct``) and is the same
   (a) asked fresh, (b) asked inside a conversation after the other picked questions (both orders) and
   (c) asked of the index rebuilt with the note that the re-index adds. That answer (text,
   abstained, interpretation, cited source/lines/span) is what every web answer must equal;
3. starts ``python app.py`` as a subprocess on a free 127.0.0.1 port (so its RSS can be read);
4. warms it (each question once), then runs N concurrent sessions, each its own ``gradio_client.Client``
   (its own server-side conversation), asking ``/ask`` in its own order; the history returned must be
   that session's own questions;
5. at the half-way mark writes ``zz-load-note.md`` (an unrelated heading and sentence) into the corpus
   copy and runs ``python -m stiqa.cli ingest`` as a subprocess: the app switches generations while
   answering; afterwards a question about the note must be answered from the note (proof the server
   really serves the new generation);
6. samples the server's RSS every 0.25 s and reports it at start (after warm-up), middle (half the
   questions answered) and end, with the peak.

The test ``tests/faces/test_load.py`` runs the same code at a small size.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

NOTE_NAME = "zz-load-note.md"
NOTE_TEXT = ("# 負荷試験の記録用メモ\n\n"
             "## 負荷試験用メモ\n\n"
             "このメモは負荷試験の途中で追加された記録用のファイルで、施策や予算の内容は含まない。"
             "合言葉は「みずうみ灯台」である。\n")
NOTE_QUESTION = "負荷試験用メモの合言葉は何ですか？"
NOTE_EXPECT = "みずうみ灯台"


# ---------------------------------------------------------------- preparation (in-process)


def copy_project(work: Path, source) -> Any:
    """A private corpus + index pair: the corpus folder, the current generation and the embedding cache."""
    from stiqa.config import load_settings
    from stiqa.index.build import build_index, current_generation

    gen = current_generation(source.index_dir)
    if gen is None:
        build_index(source)
        gen = current_generation(source.index_dir)
    corpus, index = work / "corpus", work / "index"
    shutil.copytree(source.corpus_dir, corpus)
    index.mkdir(parents=True)
    shutil.copytree(gen, index / gen.name)
    (index / "CURRENT").write_text(gen.name, encoding="utf-8")
    if (source.index_dir / "embcache").is_dir():
        shutil.copytree(source.index_dir / "embcache", index / "embcache")
    return load_settings(corpus_dir=corpus, index_dir=index)


def signature(result: dict[str, Any]) -> dict[str, Any]:
    """What must be identical between the expected and the web answer."""
    return {"answer": result.get("answer"), "abstained": result.get("abstained"),
            "interpretation": result.get("interpretation", ""),
            "citations": [[c.get("source"), c.get("line_start"), c.get("line_end"), c.get("span")]
                          for c in result.get("citations", [])]}


def pick_questions(settings, n: int, *, seed: int = 0, scratch: Path) -> list[dict[str, Any]]:
    """n stand-alone eval questions whose answer is correct and context- and re-index-independent."""
    from stiqa.engine import get_assistant
    from stiqa.index.build import build_index
    from stiqa.evaluate.scoring import is_correct

    items = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    items = [it for it in items if not it.get("history")]
    random.Random(seed).shuffle(items)  # a spread over types and documents, the same every run
    engine = get_assistant(settings)
    cands: list[dict[str, Any]] = []
    seen: set[str] = set()
    for it in items:
        if it["question"] in seen:
            continue
        res = engine.ask(it["question"]).to_json()
        if is_correct(it, res):
            seen.add(it["question"])
            cands.append({**it, "expected": signature(res)})
        if len(cands) >= 2 * n:
            break

    # the same answer inside a conversation (the web session keeps its turns), in both orders
    def in_conversation(order: list[dict[str, Any]]) -> set[str]:
        conv = engine.chat()
        return {it["id"] for it in order if signature(conv.ask(it["question"]).to_json()) == it["expected"]}

    stable = in_conversation(cands) & in_conversation(cands[::-1])
    # the same answer from the index rebuilt with the note (the web run may answer from either)
    other = copy_project(scratch, settings)
    (other.corpus_dir / NOTE_NAME).write_text(NOTE_TEXT, encoding="utf-8")
    build_index(other)
    engine_b = get_assistant(other)
    stable &= {it["id"] for it in cands if signature(engine_b.ask(it["question"]).to_json()) == it["expected"]}
    picked = [it for it in cands if it["id"] in stable][:n]
    if len(picked) < n:
        raise RuntimeError(f"only {len(picked)} stable, correct stand-alone questions (wanted {n})")
    return picked


# ---------------------------------------------------------------- the server (a subprocess)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snapshot_code(dest: Path) -> Path:
    """A copy of the code the subprocesses run: the tree is shared with other work, and a server and
    an ingest from two different versions of it (say, another CHUNKER_VERSION) would not agree."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "src", dest / "src", ignore=ignore)
    (dest / "eval").mkdir(parents=True)
    (dest / "bench").mkdir()
    for rel in ("app.py", "pyproject.toml", "eval/questions.jsonl", "bench/load.py"):
        shutil.copy2(ROOT / rel, dest / rel)
    return dest


def env_for(settings, code: Path = ROOT, **extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(code / "src"), STIQA_CORPUS_DIR=str(settings.corpus_dir),
               STIQA_INDEX_DIR=str(settings.index_dir), PYTHONIOENCODING="utf-8", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False", GRADIO_ANALYTICS_ENABLED="False")
    env.pop("STIQA_USERNAME", None)
    env.pop("STIQA_PASSWORD", None)
    env.update(extra)
    return env


class Server:
    """``python app.py`` on a free loopback port; its log in the work folder."""

    def __init__(self, settings, log: Path, code: Path = ROOT, *, timeout: float = 180.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        env = env_for(settings, code, STIQA_HOST="127.0.0.1", STIQA_PORT=str(self.port))
        self.proc = subprocess.Popen([sys.executable, str(code / "app.py")], env=env, cwd=code,
                                     stdout=log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "config", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"app.py did not answer on {self.url} in {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.5)

    def mem(self) -> tuple[int, int]:
        """(RSS, PSS) of the server and its children, bytes. PSS counts a page mapped twice once."""
        import psutil

        p = psutil.Process(self.proc.pid)
        rss = pss = 0
        for q in [p, *p.children(recursive=True)]:
            try:
                m = q.memory_full_info()
            except psutil.Error:
                continue
            rss += m.rss
            pss += getattr(m, "pss", 0)
        return rss, pss

    def mapped(self, name: str) -> tuple[int, int]:
        """How many times the server maps a file whose path ends with ``name``, and their RSS in bytes."""
        import psutil

        maps = [m for m in psutil.Process(self.proc.pid).memory_maps(grouped=False) if m.path.endswith(name)]
        return len(maps), sum(m.rss for m in maps)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, analytics_enabled=False)


# ---------------------------------------------------------------- the run


@dataclass
class Result:
    sessions: int
    total: int
    questions: list[dict[str, Any]]
    latencies: list[float] = field(default_factory=list)  # seconds, in completion order
    single: list[float] = field(default_factory=list)  # warm-up, one session alone (seconds)
    phases: list[str] = field(default_factory=list)  # before / during / after the re-index, per request
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    history_bad: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    warmup_s: float = 0.0
    startup_s: float = 0.0
    rss: dict[str, int] = field(default_factory=dict)  # start, middle, end, peak (bytes)
    pss: dict[str, int] = field(default_factory=dict)  # the same points, proportional set size (PSS)
    rss_series: list[tuple[float, int, int, int]] = field(default_factory=list)  # (t, rss, pss, answered)

    def mark(self, server: "Server", key: str) -> None:
        try:
            self.rss[key], self.pss[key] = server.mem()
        except Exception:  # noqa: BLE001 - the process went away; the run reports it
            pass
    reindex: dict[str, Any] = field(default_factory=dict)
    dic_maps: int = 0  # mappings of Sudachi's system.dic in the server at the end
    dic_rss: int = 0
    threads: int = 0
    note_answer: dict[str, Any] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return len(self.latencies)

    def pct(self, p: float, phase: str | None = None) -> float:
        xs = sorted(x for x, ph in zip(self.latencies, self.phases) if phase is None or ph == phase)
        if not xs:
            return float("nan")
        k = max(0, min(len(xs) - 1, round(p / 100 * len(xs) + 0.5) - 1))  # nearest rank
        return xs[k]

    def ok(self) -> bool:
        return (not self.errors and not self.wrong and not self.history_bad and self.answered == self.total
                and self.reindex.get("rc") == 0 and self.note_answer.get("from_note", False))


def run_reindex(settings, out: dict[str, Any], code: Path = ROOT) -> None:
    from stiqa.index.build import current_generation

    out["gen_before"] = current_generation(settings.index_dir).name
    (settings.corpus_dir / NOTE_NAME).write_text(NOTE_TEXT, encoding="utf-8")
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "stiqa.cli", "ingest"], env=env_for(settings, code), cwd=code,
                       capture_output=True, timeout=600)
    out["seconds"] = time.monotonic() - t0
    out["rc"] = p.returncode
    out["output"] = (p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")).strip()
    out["gen_after"] = current_generation(settings.index_dir).name
    out["finished"] = time.monotonic()


def run_load(work: Path, source, *, sessions: int, total: int, n_questions: int, seed: int = 0,
             reindex_at: float = 0.5, request_timeout: float = 120.0, progress: bool = False) -> Result:
    """Everything: copies, questions, server, warm-up, the concurrent run with the re-index, RSS."""
    work.mkdir(parents=True, exist_ok=True)
    code = snapshot_code(work / "code")
    settings = copy_project(work / "app", source)
    # the index brought up to the snapshot's recipe (a no-op when the copied generation already is)
    p = subprocess.run([sys.executable, "-m", "stiqa.cli", "ingest"], env=env_for(settings, code), cwd=code,
                       capture_output=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"ingest of the copy failed:\n{p.stderr.decode('utf-8', 'replace')[-4000:]}")
    # the expected answers come from the snapshot too (a subprocess), not from this process's import
    picked = work / "questions.json"
    p = subprocess.run([sys.executable, str(code / "bench" / "load.py"), "--pick-into", str(picked),
                        "--questions", str(n_questions), "--seed", str(seed), "--work", str(work / "variant")],
                       env=env_for(settings, code), cwd=code, capture_output=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"picking questions failed:\n{p.stderr.decode('utf-8', 'replace')[-4000:]}")
    questions = json.loads(picked.read_text(encoding="utf-8"))
    res = Result(sessions, total, questions)
    t0 = time.monotonic()
    server = Server(settings, work / "server.log", code)
    res.startup_s = time.monotonic() - t0
    try:
        _drive(server, settings, res, code, seed=seed, reindex_at=reindex_at, request_timeout=request_timeout,
               progress=progress)
    finally:
        server.stop()
    return res


def _check(res: Result, lock: threading.Lock, tag: str, q: dict[str, Any], got: Any, asked: list[str]) -> None:
    with lock:
        if not isinstance(got, dict):
            res.errors.append(f"{tag} {q['id']}: not a JSON object: {got!r:.200}")
        elif got.get("error"):
            res.errors.append(f"{tag} {q['id']}: error: {got['error']}")
        else:
            from stiqa.evaluate.scoring import is_correct

            if signature(got) != q["expected"] or not is_correct(q, got):
                res.wrong.append(f"{tag} {q['id']}: {got.get('answer')!r:.200} != {q['expected']['answer']!r:.200}")
            if got.get("history") != asked:
                res.history_bad.append(f"{tag} {q['id']}: history {got.get('history')!r:.200}")


def _drive(server: Server, settings, res: Result, code: Path, *, seed: int, reindex_at: float, request_timeout: float,
           progress: bool) -> None:
    lock = threading.Lock()
    qs = res.questions
    # warm-up 1: every question once, one session (the engine opens lazily on the first question);
    # the single-session latency of each is kept as the no-contention baseline
    t0 = time.monotonic()
    c = client(server.url)
    asked: list[str] = []
    for j, q in enumerate(qs):
        asked.append(q["question"])
        t = time.perf_counter()
        got = c.submit(q["question"], api_name="/ask").result(timeout=request_timeout)
        if j:  # the first one opens the engine
            res.single.append(time.perf_counter() - t)
        _check(res, lock, "warm-up", q, got, list(asked))
    c.close()
    res.mark(server, "after_warmup1")

    # warm-up 2: one question from each of `sessions` throw-away clients at once, so that the server's
    # worker threads (and their allocator arenas) exist before "start" is measured
    def one(i: int) -> None:
        q = qs[i % len(qs)]
        try:
            cl = client(server.url)
            try:
                _check(res, lock, f"warm-up client {i}", q,
                       cl.submit(q["question"], api_name="/ask").result(timeout=request_timeout), [q["question"]])
            finally:
                cl.close()
        except Exception as exc:  # noqa: BLE001
            with lock:
                res.errors.append(f"warm-up client {i}: {type(exc).__name__}: {exc}")

    warm = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(res.sessions)]
    for t in warm:
        t.start()
    for t in warm:
        t.join(timeout=request_timeout * 2)
    res.warmup_s = time.monotonic() - t0

    # sampler: RSS every 0.25 s with the number of answers so far
    stop = threading.Event()
    start_at = time.monotonic()

    def sample() -> None:
        while True:
            try:
                rss, pss = server.mem()
            except Exception:  # noqa: BLE001 - the process went away; the run reports it
                return
            with lock:
                res.rss_series.append((time.monotonic() - start_at, rss, pss, res.answered))
            if stop.wait(0.25):
                return

    res.mark(server, "start")
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    res.reindex["mark"] = max(1, int(res.total * reindex_at))
    per = [res.total // res.sessions + (1 if i < res.total % res.sessions else 0) for i in range(res.sessions)]
    reindex_started = threading.Event()
    reindex_thread: list[threading.Thread] = []
    phase = {"now": "before"}

    def reindex() -> None:
        with lock:
            phase["now"] = "during"
        run_reindex(settings, res.reindex, code)
        with lock:
            phase["now"] = "after"

    def finished_one(latency: float, ph: str) -> None:
        with lock:
            res.latencies.append(latency)
            res.phases.append(ph)
            n = len(res.latencies)
            if n == res.total // 2 and "middle" not in res.rss:
                res.mark(server, "middle")
            start_reindex = n >= res.reindex["mark"] and not reindex_started.is_set()
            if start_reindex:
                reindex_started.set()
        if start_reindex:
            t = threading.Thread(target=reindex, daemon=True)
            reindex_thread.append(t)
            t.start()
        if progress and n % 50 == 0:
            print(f"  {n}/{res.total} answered", flush=True)

    def session(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        order = [qs[(i + k) % len(qs)] for k in range(per[i])]
        rng.shuffle(order)
        asked: list[str] = []
        try:
            cl = client(server.url)
        except Exception as exc:  # noqa: BLE001
            with lock:
                res.errors.append(f"session {i}: cannot connect: {type(exc).__name__}: {exc}")
            return
        try:
            for k, q in enumerate(order):
                asked.append(q["question"])
                with lock:
                    ph = phase["now"]
                t = time.perf_counter()
                try:
                    got = cl.submit(q["question"], api_name="/ask").result(timeout=request_timeout)
                except Exception as exc:  # noqa: BLE001 - any failure is the finding
                    with lock:
                        res.errors.append(f"session {i} #{k} {q['id']}: {type(exc).__name__}: {exc}")
                    asked.pop()  # the server may or may not have recorded the turn
                    continue
                latency = time.perf_counter() - t
                _check(res, lock, f"session {i} #{k}", q, got, list(asked))
                finished_one(latency, ph)
        finally:
            cl.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=session, args=(i,), daemon=True) for i in range(res.sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(60.0, request_timeout * 4 + res.total))
        if t.is_alive():
            res.errors.append("a session did not finish in time")
    res.wall_s = time.monotonic() - t0
    res.mark(server, "end")
    try:
        res.dic_maps, res.dic_rss = server.mapped("system.dic")
        res.threads = __import__("psutil").Process(server.proc.pid).num_threads()
    except Exception:  # noqa: BLE001
        pass
    for t in reindex_thread:
        t.join(timeout=600)
    if not reindex_thread:
        res.errors.append("the re-index never started")
    stop.set()
    sampler.join(timeout=5)
    res.rss["peak"] = max([r for _, r, _, _ in res.rss_series] + list(res.rss.values()))
    res.pss["peak"] = max([u for _, _, u, _ in res.rss_series] + list(res.pss.values()))
    res.reindex["answered_after"] = sum(1 for ph in res.phases if ph == "after")
    res.reindex["answered_during"] = sum(1 for ph in res.phases if ph == "during")

    # the server now serves the new generation: the note (only in the new index) answers its question
    c = client(server.url)
    got = c.submit(NOTE_QUESTION, api_name="/ask").result(timeout=request_timeout)
    c.close()
    res.note_answer = {"answer": got.get("answer", got.get("error")),
                       "from_note": NOTE_EXPECT in (got.get("answer") or "")
                       and any(ct.get("source") == NOTE_NAME for ct in got.get("citations", []))}


# ---------------------------------------------------------------- the report


def mib(b: int | None) -> str:
    return "—" if b is None else f"{b / 2**20:,.0f} MiB"


def report_md(res: Result, *, seed: int) -> str:
    ms = lambda x: f"{x * 1000:,.0f} ms"  # noqa: E731
    r = res.reindex
    try:
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    lines = [
        "# Load test: the web app under concurrent sessions and a re-index",
        "",
        f"`PYTHONPATH=src python bench/load.py --sessions {res.sessions} --total {res.total} "
        f"--questions {len(res.questions)} --seed {seed}` — written by `bench/load.py` (method in its docstring; "
        "the small version runs in `tests/faces/test_load.py`).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared with other work; load average at the end "
        f"{load}), Python {platform.python_version()}; server = `python app.py` on 127.0.0.1, clients = "
        "`gradio_client.Client(url).submit(question, api_name=\"/ask\")`, one client (server-side session) per "
        "simulated user, all in one client process.",
        "",
        "## Result",
        "",
        "| | |",
        "|---|---|",
        f"| verdict | **{'PASS' if res.ok() else 'FAIL'}** |",
        f"| sessions (concurrent) | {res.sessions} |",
        f"| questions asked / answered | {res.total} / {res.answered} |",
        f"| errors (exceptions, `error` replies) | {len(res.errors)} |",
        f"| answers different from the expected answer | {len(res.wrong)} |",
        f"| answers correct for their question | {res.answered - len(res.wrong)} / {res.answered} |",
        f"| session history not its own questions | {len(res.history_bad)} |",
        f"| latency p50 | {ms(res.pct(50))} |",
        f"| latency p95 | {ms(res.pct(95))} |",
        f"| latency max | {ms(max(res.latencies)) if res.latencies else '—'} |",
        f"| wall time / throughput | {res.wall_s:.1f} s / {res.answered / res.wall_s:.1f} answers/s |"
        if res.wall_s else "| wall time | — |",
        f"| one session alone (warm-up, no contention): p50 / max | "
        f"{ms(sorted(res.single)[len(res.single) // 2]) if res.single else '—'} / "
        f"{ms(max(res.single)) if res.single else '—'} |",
        f"| server start (app.py to first page) / warm-up | {res.startup_s:.1f} s / {res.warmup_s:.1f} s |",
        "",
        "Latency is the client's wall time for one `/ask` (queueing in Gradio's queue included; the engine "
        "answers one question at a time under its lock, so with 20 sessions most of p50 is waiting).",
        "",
        "| phase | answers | p50 | p95 |",
        "|---|---|---|---|",
    ]
    for ph in ("before", "during", "after"):
        n = sum(1 for x in res.phases if x == ph)
        lines.append(f"| {ph} the re-index | {n} | {ms(res.pct(50, ph)) if n else '—'} | "
                     f"{ms(res.pct(95, ph)) if n else '—'} |")
    lines += [
        "",
        "## Memory (server process)",
        "",
        "| | after 1st warm-up (1 session) | start (after warm-up) | middle (half answered) | end | peak "
        "| end − start |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, d in (("RSS", res.rss), ("PSS", res.pss)):
        lines.append(f"| {name} | {mib(d.get('after_warmup1'))} | {mib(d.get('start'))} | {mib(d.get('middle'))} | "
                     f"{mib(d.get('end'))} | {mib(d.get('peak'))} | "
                     f"{(d.get('end', 0) - d.get('start', 0)) / 2**20:+,.0f} MiB |")
    lines += [
        "",
        f"{len(res.rss_series)} samples every 0.25 s (`psutil` `memory_full_info`: RSS, and PSS, which counts "
        "a page mapped twice (or shared with another process) once, split between the mappings). Series, every "
        "~10 % of the run (seconds, answered, RSS, PSS):",
        "",
    ]
    series = res.rss_series
    if series:
        step = max(1, len(series) // 10)
        picks = series[::step] + ([series[-1]] if (len(series) - 1) % step else [])
        lines.append(" · ".join(f"{t:.0f} s, {n}, {mib(b)}, {mib(u)}" for t, b, u, n in picks))
    lines += [
        "",
        f"At the end the server had {res.threads} threads and mapped Sudachi's `system.dic` (193 MiB file) "
        f"**{res.dic_maps}** times, {mib(res.dic_rss)} of its RSS: `stiqa.text.japanese._tokenizer` opens a new "
        "`sudachipy.Dictionary()` in every thread that tokenises (Gradio's worker threads), and RSS counts the "
        "same page-cache pages once per mapping. PSS counts them once, so PSS is the memory the run really "
        "used; RSS grows with the number of worker threads that have answered (bounded by the pool, not by "
        "the number of questions). One shared `Dictionary()` with a tokenizer per thread keeps one mapping.",
    ]
    lines += [
        "",
        "## Re-index during the run",
        "",
        f"When {r.get('mark')} answers had come back, `{NOTE_NAME}` (an unrelated heading and sentence) "
        "was written into the corpus copy and "
        "`python -m stiqa.cli ingest` run as a subprocess on the same corpus and index folders.",
        "",
        f"- generation {r.get('gen_before')} → {r.get('gen_after')}, exit code {r.get('rc')}, "
        f"{r.get('seconds', float('nan')):.1f} s",
        f"- answers while it ran: {r.get('answered_during')}; after it: {r.get('answered_after')}",
        f"- ingest said: `{(r.get('output') or '').splitlines()[-1] if r.get('output') else ''}`",
        f"- afterwards 「{NOTE_QUESTION}」 over `/ask`: 「{res.note_answer.get('answer')}」 — "
        f"{'answered from the note: the server serves the new generation' if res.note_answer.get('from_note') else 'NOT answered from the note'}",
        "",
        "## Questions",
        "",
        f"{len(res.questions)} stand-alone questions from `eval/questions.jsonl`, each correct in-process and with the "
        "same answer fresh, inside a conversation (both orders) and from the index with the note; each session asks "
        "its share in its own shuffled order. Every web answer must equal the expected answer "
        "(text, abstained, interpretation, cited file/lines/span) and pass `is_correct`.",
        "",
        "| id | type | question |",
        "|---|---|---|",
    ]
    lines += [f"| {q['id']} | {q.get('type', '')} | {q['question'].replace('|', '｜')} |" for q in res.questions]
    problems = res.errors + res.wrong + res.history_bad
    if problems:
        lines += ["", "## Problems (first 20)", ""] + [f"- `{p}`" for p in problems[:20]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--total", type=int, default=500)
    ap.add_argument("--questions", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "load.md")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    ap.add_argument("--pick-into", type=Path, default=None, help=argparse.SUPPRESS)  # internal: step 2 only
    args = ap.parse_args(argv)

    from stiqa.config import load_settings

    source = load_settings()
    if args.pick_into:  # run by run_load in the code snapshot, on the app's corpus/index copy
        picked = pick_questions(source, args.questions, seed=args.seed, scratch=args.work)
        args.pick_into.write_text(json.dumps(picked, ensure_ascii=False), encoding="utf-8")
        return 0
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="stiqa-load-")
    work = args.work or Path(tmp.name)
    try:
        res = run_load(work, source, sessions=args.sessions, total=args.total, n_questions=args.questions,
                       seed=args.seed, progress=True)
        args.out.write_text(report_md(res, seed=args.seed), encoding="utf-8")
    finally:
        if tmp:
            tmp.cleanup()
    print(f"{'PASS' if res.ok() else 'FAIL'}: {res.answered}/{res.total} answered, {len(res.errors)} errors, "
          f"{len(res.wrong)} wrong, p50 {res.pct(50) * 1000:.0f} ms, p95 {res.pct(95) * 1000:.0f} ms, "
          f"RSS start/middle/end {mib(res.rss.get('start'))}/{mib(res.rss.get('middle'))}/{mib(res.rss.get('end'))}"
          f" (PSS {mib(res.pss.get('start'))}/{mib(res.pss.get('middle'))}/{mib(res.pss.get('end'))})"
          f" -> {args.out}")
    for p in (res.errors + res.wrong + res.history_bad)[:10]:
        print("  ", p)
    return 0 if res.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
