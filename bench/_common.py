"""Helpers shared by the bench scripts: paths to ../shared, the seed functions, repeated data with new ids, timing.

Every bench script imports this module first: `bench/tokenize.py` shares its name with the standard library's
`tokenize`, which numpy and pandas import, so this folder is moved to the end of `sys.path` before they load."""
import sys, os
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != _here] + [_here]
import time, importlib, platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent/'shared'

def shared(*parts) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists(): sys.exit(f"missing {p}: the benchmarks need the shared data folder beside the project root")
    return p

def seed_module():
    sys.path.insert(0, str(shared('seed', 'seed_reference.py').parent))
    return importlib.import_module('seed_reference')

def repeat_rows(rows: dict, k: int) -> dict:
    "`rows` (dict of lists) repeated `k` times, ids made unique with a suffix."
    out = {c: v * k for c, v in rows.items()}
    out['id'] = [f"{i}#{r}" if r else i for r in range(k) for i in rows['id']]
    return out

def best_time(fn, repeats=3):
    "Best wall-clock seconds of `repeats` calls, and the last result."
    best, res = float('inf'), None
    for _ in range(repeats):
        t = time.perf_counter(); res = fn(); best = min(best, time.perf_counter() - t)
    return best, res

def header(cmd):
    import torch, transformers
    print(f"$ {cmd}")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"transformers {transformers.__version__}")
