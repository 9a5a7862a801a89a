"""Where the secured gateway's time goes: py-spy samples the server process (on-CPU only,
with the GIL held) while a sequential client sends chat completions, and this prints the
functions with the largest self and inclusive share of the samples as JSON. The targets are
the gateway benchmark's own (benchmarks/gateway_targets.py): the same upstream, the same
secured settings.

    python benchmarks/profile_gateway.py [--target secured|open|memory] [--seconds 20]
                                         [--top 40] [--embedder minilm|minilm-onnx|…]

`memory`: memory on, a 2,000-memory scope, a new prompt stored every request (as the
gateway benchmark's memory-on target, smaller scope); its threads are sampled too.

Needs py-spy (`pip install py-spy`); ptrace must be allowed (it is as root here).
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from gateway import populate_memories
from gateway_targets import BODY, cerebra, create_key, open_env, secured_env, upstream


def collapsed_top(path: Path, top: int) -> dict[str, object]:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        # "func (path/file.py:line)" -> "func file.py": one entry per function
        frames = [f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].rsplit(":", 1)[0]
                  for f in stack.split(";")[1:]]  # the first frame is the thread
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            incl[frame] += count
    share = lambda c: round(100 * c / max(total, 1), 2)  # noqa: E731
    return {
        "samples": total,
        "self_pct": [(f, share(c)) for f, c in own.most_common(top)],
        "inclusive_pct": [(f, share(c)) for f, c in incl.most_common(top)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("secured", "open", "memory"), default="secured")
    parser.add_argument("--embedder", default="minilm", help="memory.embedder (memory)")
    parser.add_argument("--scope", type=int, default=2000, help="memories (memory)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--keep", type=Path, help="also copy py-spy's raw stacks here")
    parser.add_argument("--idle", action="store_true",
                        help="sample waiting threads too (wall time, not only on-CPU)")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        up, base = upstream(work)
        procs = [up.process]
        try:
            if args.target == "secured":
                env, _ = secured_env(work)
                key = create_key(work / "secured", env)
                target = cerebra("secured", work, base, env,
                                 headers={"Authorization": f"Bearer {key}"})
            elif args.target == "memory":
                populate_memories(work / "memory", args.scope, args.embedder)
                target = cerebra("memory", work, base,
                                 {**open_env(), "CEREBRA_EMBEDDER": args.embedder},
                                 body={**BODY, "metadata": {"user_id": "bench"}})
                target.fresh = True
                target.headers.pop("X-Cerebra-Memory")
            else:
                target = cerebra("open", work, base, open_env())
            procs.append(target.process)
            assert target.process is not None
            out = work / "stacks.txt"
            with httpx.Client(timeout=10) as client:
                for _ in range(200 if args.target != "memory" else 30):  # warm up
                    client.post(target.url, json=target.request_body(), headers=target.headers)
                spy_proc = subprocess.Popen(
                    [spy, "record", "--pid", str(target.process.pid), "--format", "raw",
                     "--rate", str(args.rate), "--nonblocking",
                     *(["--gil"] if args.target != "memory" else []),
                     *(["--idle"] if args.idle else []), "--output",
                     str(out), "--duration", str(int(args.seconds))],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                sent, deadline = 0, time.time() + args.seconds
                while time.time() < deadline:
                    r = client.post(target.url, json=target.request_body(),
                                    headers=target.headers)
                    r.raise_for_status()
                    sent += 1
                _, spy_err = spy_proc.communicate(timeout=60)
            if not out.exists():
                raise SystemExit(f"py-spy recorded nothing: {spy_err.decode()[-500:]}")
            if args.keep:
                shutil.copyfile(out, args.keep)
            print(json.dumps({"target": args.target, "requests": sent,
                              **collapsed_top(out, args.top)}, indent=1))
        finally:
            for p in procs:
                if p is not None:
                    p.terminate()


if __name__ == "__main__":
    main()
