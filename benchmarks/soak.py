"""Soak: the recommender service under mixed valid and hostile load; the inspector job killed at random.

Part 1 starts ``deepseek-apps recommender serve`` (shipped DIN model, a throw-away
``redis-server``) on a free loopback port and runs ``--clients`` concurrent clients for
``--minutes``: valid ``GET /recommend`` and ``POST /events`` mixed with hostile requests
(bodies over the limit, 100 KB ids, bad JSON, null / NaN ids and candidates, unknown users,
huge k). Per ``--window-s`` window: requests, status codes, errors (any 5xx, transport
failure, valid request not answered 2xx, hostile request not answered as documented), p50 /
p99 latency of the valid requests and the server's RSS.

Part 2 writes ``--images`` images (a few hostile: truncated PNG, text and empty files named
.png), scores them once cleanly with ``deepseek-apps inspector score``, then SIGKILLs the same
job ``--kills`` times at uniform random moments between 0.5 s and the clean run's duration,
re-running after each kill. When a run finishes before its kill, that output is checked
(every input exactly once, records equal to the clean run's but for latency) and a new
output is started, so kills keep landing mid-job. A last run completes the last output.

    flock /tmp/cpu.lock .venv/bin/python benchmarks/soak.py [--minutes 10] [--kills 100] [--out bench_out]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from deepseek_apps.core.bench import cpu_info
from deepseek_apps.core.runtime.redis_local import LocalRedis, free_port

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("deepseek-apps"))
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
MAX_REQUESTS = 10**7  # per client; the deadline normally ends the loop first


# ---------------------------------------------------------------------------- part 1: service soak
@dataclass(frozen=True)
class Kind:
    """One kind of request: ``valid`` ones must answer 2xx; ``expect`` is the documented answer class."""

    name: str
    weight: int
    valid: bool
    expect: str  # "2xx" or "4xx"


KINDS = (
    Kind("recommend", 40, True, "2xx"),
    Kind("event", 20, True, "2xx"),
    Kind("event, ids as strings", 6, True, "2xx"),
    Kind("recommend, unknown user", 4, False, "2xx"),  # cold start: documented answer
    Kind("recommend, huge k", 2, False, "2xx"),  # k clipped to the catalog
    Kind("recommend, null/NaN candidates", 3, False, "2xx"),  # over HTTP they are unknown string ids
    Kind("recommend, k <= 0", 2, False, "4xx"),
    Kind("recommend, 10 KB id", 2, False, "4xx"),
    Kind("recommend, 100 KB id (raw)", 2, False, "4xx"),
    Kind("event, body > limit", 3, False, "4xx"),
    Kind("event, 100 KB id", 3, False, "4xx"),
    Kind("event, bad JSON", 4, False, "4xx"),
    Kind("event, null id", 3, False, "4xx"),
    Kind("event, NaN id", 3, False, "4xx"),
    Kind("event, list body", 3, False, "4xx"),
)
KIND = {k.name: k for k in KINDS}


def raw_get(port: int, path: str, timeout: float) -> int:
    """Status of a raw HTTP/1.1 GET (httpx refuses URLs over 64 KB); 0 when the server closed without one."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
    except (ConnectionResetError, BrokenPipeError):
        return 0
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def send(client, port: int, kind: str, rng: random.Random, users: list, items: list):
    """Send one request of ``kind``; its response, or the status of a raw request (0: closed by the server)."""
    u, it = rng.choice(users), rng.choice(items)
    big = "9" * 100_000
    match kind:
        case "recommend":
            return client.get("/recommend", params={"user_id": u, "k": rng.choice((5, 10, 20))})
        case "event":
            return client.post("/events", json={"user_id": u, "item_id": it})
        case "event, ids as strings":
            return client.post("/events", json={"user_id": str(u), "item_id": str(it)})
        case "recommend, unknown user":
            return client.get("/recommend", params={"user_id": f"ghost-{rng.randrange(10**9)}"})
        case "recommend, huge k":
            return client.get("/recommend", params={"user_id": u, "k": rng.choice((10**9, 10**30))})
        case "recommend, null/NaN candidates":
            cands = ",".join(map(str, [it, "null", "NaN", it, items[0]]))
            return client.get("/recommend", params={"user_id": u, "candidates": cands})
        case "recommend, k <= 0":
            return client.get("/recommend", params={"user_id": u, "k": rng.choice((0, -5))})
        case "recommend, 10 KB id":
            return client.get("/recommend", params={"user_id": big[:10_000]})
        case "recommend, 100 KB id (raw)":
            return raw_get(port, f"/recommend?user_id={big}", timeout=30)
        case "event, body > limit":
            return client.post("/events", json={"user_id": u, "item_id": it, "pad": "x" * 200_000})
        case "event, 100 KB id":
            return client.post("/events", json={"user_id": big, "item_id": it})
        case "event, bad JSON":
            body = rng.choice((b'{"user_id": 5,', b"not json", b"\xff\xfe\x00", b""))
            return client.post("/events", content=body, headers={"content-type": "application/json"})
        case "event, null id":
            return client.post("/events", json={"user_id": None, "item_id": it})
        case "event, NaN id":
            body = b'{"user_id": %d, "item_id": NaN}' % u
            return client.post("/events", content=body, headers={"content-type": "application/json"})
        case "event, list body":
            return client.post("/events", json=[u, it])
    raise ValueError(kind)


def client_loop(base: str, port: int, deadline: float, seed: int, ids: tuple, log: list, samples: dict) -> None:
    """One client: weighted random kinds until ``deadline`` or ``MAX_REQUESTS``; appends (t, kind, status, ms).

    The first wrong answer of each kind is kept in ``samples`` (request and body).
    """
    import httpx

    rng = random.Random(seed)
    names, weights = [k.name for k in KINDS], [k.weight for k in KINDS]
    with httpx.Client(base_url=base, timeout=30.0) as client:
        for _ in range(MAX_REQUESTS):
            if time.monotonic() >= deadline:
                return
            kind = rng.choices(names, weights)[0]
            t0 = time.monotonic()
            try:
                answer = send(client, port, kind, rng, *ids)
            except httpx.TransportError as exc:
                answer, samples[kind] = -1, samples.get(kind) or f"{type(exc).__name__}: {exc}"
            status = answer if isinstance(answer, int) else answer.status_code
            log.append((t0, kind, status, (time.monotonic() - t0) * 1000))
            if not isinstance(answer, int) and kind not in samples and classify(KIND[kind], status) != "ok":
                samples[kind] = f"{status} {answer.request.url}"[:300] + f" -> {answer.text[:300]}"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_monitor(pid: int, stop: threading.Event, samples: list, period_s: float = 1.0) -> None:
    while not stop.wait(period_s):
        try:
            samples.append((time.monotonic(), rss_mb(pid)))
        except (OSError, ValueError):
            return


def start_service(redis_url: str, log_path: Path, timeout_s: float = 120.0) -> tuple[subprocess.Popen, int]:
    import httpx

    port = free_port()
    cmd = [CLI, "recommender", "serve", "--host", "127.0.0.1", "--port", str(port), "--redis-url", redis_url]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log_path.open("w"))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc, port
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the service did not start; see {log_path}")


def classify(kind: Kind, status: int) -> str:
    """'ok', or why this answer is an error."""
    if status < 0:
        return "transport"
    if status >= 500:
        return "5xx"
    if kind.expect == "2xx" and not 200 <= status < 300:
        return "valid failed" if kind.valid else "unexpected"
    if kind.expect == "4xx" and not (400 <= status < 500 or (status == 0 and "raw" in kind.name)):
        return "unexpected"
    return "ok"


def windows(log: list, rss: list, t_start: float, window_s: float) -> list[dict]:
    n = int(max((t - t_start for t, *_ in log), default=0) // window_s) + 1
    rows = []
    for w in range(n):
        lo, hi = t_start + w * window_s, t_start + (w + 1) * window_s
        part = [r for r in log if lo <= r[0] < hi]
        codes = Counter(f"{s // 100}xx" if s > 0 else ("closed" if s == 0 else "transport") for _, _, s, _ in part)
        errors = Counter(classify(KIND[k], s) for _, k, s, _ in part)
        lat = np.array([ms for _, k, s, ms in part if KIND[k].valid and 200 <= s < 300])
        mem = [m for t, m in rss if lo <= t < hi]
        rows.append(
            {
                "window": f"{w * window_s:.0f}-{(w + 1) * window_s:.0f}s",
                "requests": len(part),
                "valid": sum(KIND[k].valid for _, k, _, _ in part),
                "hostile": sum(not KIND[k].valid for _, k, _, _ in part),
                "codes": dict(sorted(codes.items())),
                "errors": sum(v for k, v in errors.items() if k != "ok"),
                "error_kinds": {k: v for k, v in errors.items() if k != "ok"},
                "p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
                "p99_ms": float(np.percentile(lat, 99)) if lat.size else None,
                "rss_mb": max(mem) if mem else None,
            }
        )
    return rows


def per_kind(log: list) -> list[dict]:
    rows = []
    for kind in KINDS:
        statuses = Counter(s for _, k, s, _ in log if k == kind.name)
        bad = sum(v for s, v in statuses.items() if classify(kind, s) != "ok")
        rows.append({"kind": kind.name, "expect": kind.expect, "n": sum(statuses.values()), "statuses": dict(statuses)})
        rows[-1]["errors"] = bad
    return rows


def soak_service(minutes: float, clients: int, window_s: float, seed: int, out: Path) -> dict:
    import httpx

    from deepseek_apps import DINRecommender

    catalog = DINRecommender().catalog_
    ids = (list(catalog.user_ids), list(catalog.item_ids))
    with LocalRedis() as redis:
        proc, port = start_service(redis.url, out / "soak_server.log")
        base = f"http://127.0.0.1:{port}"
        try:
            rss0 = rss_mb(proc.pid)
            log: list = []
            bad_answers: dict = {}
            samples: list = [(time.monotonic(), rss0)]
            stop = threading.Event()
            monitor = threading.Thread(target=rss_monitor, args=(proc.pid, stop, samples), daemon=True)
            monitor.start()
            t_start = time.monotonic()
            deadline = t_start + minutes * 60
            threads = [
                threading.Thread(target=client_loop, args=(base, port, deadline, seed + i, ids, log, bad_answers))
                for i in range(clients)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=minutes * 60 + 120)
            stop.set()
            monitor.join(5)
            elapsed = time.monotonic() - t_start
            stats = httpx.get(f"{base}/stats", timeout=10).json()
            rss_end = rss_mb(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    server_log = (out / "soak_server.log").read_text(errors="replace")
    rows = windows(log, samples, t_start, window_s)
    kinds = per_kind(log)
    valid = np.array([ms for _, k, s, ms in log if any(x.name == k and x.valid for x in KINDS) and 200 <= s < 300])
    return {
        "minutes": minutes,
        "clients": clients,
        "elapsed_s": elapsed,
        "requests": len(log),
        "requests_per_s": len(log) / elapsed,
        "errors": sum(r["errors"] for r in rows),
        "p50_ms": float(np.percentile(valid, 50)) if valid.size else None,
        "p99_ms": float(np.percentile(valid, 99)) if valid.size else None,
        "rss_start_mb": rss0,
        "rss_max_mb": max(m for _, m in samples),
        "rss_end_mb": rss_end,
        "server_tracebacks": server_log.count("Traceback"),
        "service_stats": stats,
        "windows": rows,
        "per_kind": kinds,
        "first_wrong_answers": bad_answers,
    }


# ---------------------------------------------------------------------------- part 2: inspector kills
def write_images(folder: Path, count: int, seed: int) -> list[Path]:
    """``count`` files: synthetic steel images as PNG, the last three hostile (truncated, text, empty)."""
    from deepseek_apps.datasets.synthetic import generate_samples

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, sample in enumerate(generate_samples(count - 3, seed=seed)):
        paths.append(folder / f"img_{i:04d}.png")
        sample.image.save(paths[-1])
    good = paths[0].read_bytes()
    hostile = {"truncated.png": good[: len(good) // 2], "text.png": b"this is not an image\n" * 20, "empty.png": b""}
    for name, data in hostile.items():
        paths.append(folder / name)
        paths[-1].write_bytes(data)
    return sorted(paths)


def score_cmd(folder: Path, out_file: Path) -> list[str]:
    return [CLI, "inspector", "score", str(folder), "--out", str(out_file), "--no-progress"]


def comparable(rec: dict) -> str:
    return json.dumps({k: v for k, v in rec.items() if k != "latency_ms"}, sort_keys=True)


def check_output(out_file: Path, inputs: list[Path], clean: dict[str, str]) -> dict:
    """Lost / duplicated inputs and records that differ from the clean run's."""
    lines = out_file.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    seen = Counter(r["source"] for r in records)
    expected = {str(p) for p in inputs}
    return {
        "lines": len(lines),
        "lost": len(expected - set(seen)),
        "duplicated": sum(n - 1 for n in seen.values() if n > 1),
        "foreign": len(set(seen) - expected),
        "differ": sum(comparable(r) != clean.get(r["source"]) for r in records),
    }


def count_lines(path: Path) -> tuple[int, bool]:
    """Complete lines in ``path`` and whether a torn (unterminated) last line follows them."""
    if not path.exists():
        return 0, False
    data = path.read_bytes()
    return data.count(b"\n"), bool(data) and not data.endswith(b"\n")


def kill_test(kills: int, n_images: int, seed: int, budget_s: float, keep: Path | None = None) -> dict:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="soak_inspector_"))
    try:
        inputs = write_images(work / "images", n_images, seed)
        t0 = time.monotonic()
        clean_run = subprocess.run(score_cmd(work / "images", work / "clean.jsonl"), capture_output=True, text=True)
        clean_s = time.monotonic() - t0
        if clean_run.returncode != 0:
            raise RuntimeError(f"the clean run failed ({clean_run.returncode}): {clean_run.stderr[-2000:]}")
        clean_records = [json.loads(line) for line in (work / "clean.jsonl").read_text().splitlines()]
        clean = {r["source"]: comparable(r) for r in clean_records}
        clean_check = check_output(work / "clean.jsonl", inputs, clean)
        rounds, events = [], []
        landed, runs, finished_early, torn = 0, 0, 0, 0
        out_file = work / "job_0.jsonl"
        deadline = time.monotonic() + budget_s
        while landed < kills and time.monotonic() < deadline and runs < kills * 5:
            before, _ = count_lines(out_file)
            delay = rng.uniform(0.5, clean_s)
            proc = subprocess.Popen(
                score_cmd(work / "images", out_file), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            runs += 1
            try:
                _, err = proc.communicate(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                after, is_torn = count_lines(out_file)
                landed += 1
                torn += is_torn
                events.append({"delay_s": delay, "lines_before": before, "lines_after": after, "torn": is_torn})
                continue
            if proc.returncode != 0:
                raise RuntimeError(f"a resumed run failed ({proc.returncode}): {err.decode()[-2000:]}")
            finished_early += 1  # the job completed before its kill: check this output, start a new one
            rounds.append({"output": out_file.name, **check_output(out_file, inputs, clean)})
            out_file = work / f"job_{len(rounds)}.jsonl"
        if out_file.exists():  # the last output: one final run to completion
            final = subprocess.run(score_cmd(work / "images", out_file), capture_output=True, text=True)
            if final.returncode != 0:
                raise RuntimeError(f"the final run failed ({final.returncode}): {final.stderr[-2000:]}")
            rounds.append({"output": out_file.name, **check_output(out_file, inputs, clean)})
        if keep is not None:
            shutil.copy(work / "clean.jsonl", keep / "soak_inspector_clean.jsonl")
        mid_job = sum(e["lines_after"] > e["lines_before"] or e["torn"] for e in events)
        return {
            "images": len(inputs),
            "hostile_images": 3,
            "clean_run_s": clean_s,
            "clean_errors": sum(1 for r in clean_records if r["error"]),
            "clean_check": clean_check,
            "kills_requested": kills,
            "kills": landed,
            "kills_while_writing": mid_job,
            "kills_before_first_write": landed - mid_job,
            "torn_lines_left": torn,
            "runs": runs + len(rounds) - finished_early,
            "outputs_checked": len(rounds),
            "lost": sum(r["lost"] for r in rounds),
            "duplicated": sum(r["duplicated"] for r in rounds),
            "differ": sum(r["differ"] for r in rounds),
            "foreign": sum(r["foreign"] for r in rounds),
            "rounds": rounds,
            "kill_events": events,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------- report
def fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def service_tables(s: dict) -> str:
    head = "| window | requests | valid | hostile | status codes | errors | p50 ms | p99 ms | server RSS MB |"
    lines = [head, "|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in s["windows"]:
        codes = " ".join(f"{k}:{v}" for k, v in r["codes"].items())
        cells = [r["window"], r["requests"], r["valid"], r["hostile"], codes, r["errors"]]
        cells += [r["p50_ms"], r["p99_ms"], r["rss_mb"]]
        lines.append("| " + " | ".join(fmt(c) for c in cells) + " |")
    lines += ["", "| request kind | expected | n | statuses | errors |", "|---|---|---:|---|---:|"]
    for r in s["per_kind"]:
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(r["statuses"].items()))
        lines.append(f"| {r['kind']} | {r['expect']} | {r['n']} | {statuses} | {r['errors']} |")
    lines.append(
        f"\n{s['requests']} requests in {s['elapsed_s']:.0f} s ({s['requests_per_s']:.0f}/s) from {s['clients']} "
        f"clients; errors {s['errors']}; valid p50 {fmt(s['p50_ms'])} ms, p99 {fmt(s['p99_ms'])} ms; server RSS "
        f"{s['rss_start_mb']:.0f} MB at start, {s['rss_max_mb']:.0f} max, {s['rss_end_mb']:.0f} at end; "
        f"tracebacks in the server log: {s['server_tracebacks']}; local history users "
        f"{s['service_stats'].get('local_users', '-')}, redis errors {s['service_stats'].get('redis_errors')}"
    )
    return "\n".join(lines)


def kill_table(k: dict) -> str:
    rows = [
        ("inputs (of them hostile)", f"{k['images']} ({k['hostile_images']})"),
        ("clean run (load + score), s", f"{k['clean_run_s']:.1f}"),
        ("SIGKILLs (requested)", f"{k['kills']} ({k['kills_requested']})"),
        ("  landed after the first record of the run", k["kills_while_writing"]),
        ("  landed before it (model loading)", k["kills_before_first_write"]),
        ("  left a torn last line", k["torn_lines_left"]),
        ("runs in all (killed + completed)", k["runs"]),
        ("outputs completed and checked", k["outputs_checked"]),
        ("items lost", k["lost"]),
        ("items duplicated", k["duplicated"]),
        ("records differing from the clean run", k["differ"]),
    ]
    return "\n".join(["| inspector score, killed at random | |", "|---|---:|"] + [f"| {a} | {b} |" for a, b in rows])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="length of the service soak")
    p.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    p.add_argument("--window-s", type=float, default=30.0, help="report window")
    p.add_argument("--kills", type=int, default=100, help="SIGKILLs of the inspector job")
    p.add_argument("--images", type=int, default=200, help="inputs of the inspector job")
    p.add_argument("--kill-budget-s", type=float, default=1800.0, help="stop killing after this long")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip", choices=["service", "inspector"], default=None)
    p.add_argument("--out", type=Path, default=ROOT / "bench_out")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cpu = cpu_info()
    threads = {name: os.environ.get(name, "unset") for name in THREAD_ENV}
    report = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cpu": cpu, "threads": threads}
    print(f"{report['date']} | CPU: {cpu} | threads: {threads} (torch default: one per core)", flush=True)
    if args.skip != "service":
        report["service"] = soak_service(args.minutes, args.clients, args.window_s, args.seed, args.out)
        print("\n## Recommender service soak\n\n" + service_tables(report["service"]), flush=True)
        (args.out / "soak.json").write_text(json.dumps(report, indent=2, default=float))
    if args.skip != "inspector":
        report["inspector"] = kill_test(args.kills, args.images, args.seed, args.kill_budget_s, args.out)
        print("\n## Inspector score killed at random\n\n" + kill_table(report["inspector"]), flush=True)
        (args.out / "soak.json").write_text(json.dumps(report, indent=2, default=float))
    print(f"\nwritten {args.out / 'soak.json'}")


if __name__ == "__main__":
    main()
