"""Scale: tokenize -> post-process -> metric on 1x, 4x and 16x the shared training set, each stage timed.

    python bench/scale.py [--scale 1 4 16] [--seed 0] [--batch-size 1000]

Data: ../shared/data/squad_v2/train.json (3,720 questions) repeated with new ids (16x: 59,520 questions).
Stages, as evaluation runs them (logits come from seeded random numbers instead of a model):
- tokenize: `features.tokenize_dataset(train=False)`: validation windows (max_length 384, doc_stride 128) with offsets;
- read windows: `postprocess.read_windows`: the offsets as flat arrays;
- stage 1: `postprocess.window_candidates` on each batch of `--batch-size` windows (random normal float32 logits of the
  batch's width, CLS +2.5 so that about half of the questions come out unanswered; drawing them is not timed);
- stage 2: `postprocess.decode_candidates`: one answer, null odds and n-best per question;
- metric: `metric.squad_v2_score` with the null odds (best thresholds included).
Time per question should stay flat from 1x to 16x (linear growth). One run per size, after a warm-up run on 100
questions."""
import _common  # first: moves this folder to the end of sys.path (bench/tokenize.py shadows the stdlib's tokenize)
import argparse, gc
from _common import *

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--scale', type=int, nargs='*', default=[1, 4, 16])
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--batch-size', type=int, default=1000, help='windows per stage-1 call (default 1000)')
    a = ap.parse_args()
    header(f"python bench/scale.py --scale {' '.join(map(str, a.scale))} --seed {a.seed} --batch-size {a.batch_size}")
    import numpy as np, datasets
    from datasets import Dataset
    from squad_nb.data import load_squad, SQUAD_FEATURES
    from squad_nb.features import load_tokenizer, tokenize_dataset
    from squad_nb.postprocess import (read_windows, window_candidates, decode_candidates, get_predictions,
                                      get_null_score_diffs)
    from squad_nb.metric import squad_v2_score
    datasets.disable_progress_bars()
    tok = load_tokenizer('minilm-local')
    rows = load_squad(shared('data', 'squad_v2', 'train.json'))[:]
    stages = ['tokenize', 'read windows', 'stage 1', 'stage 2', 'metric']
    print(f"# data: train.json ({len(rows['id'])} questions) repeated with new ids; random logits, seed {a.seed}\n")
    print(f"{'scale':>5} {'questions':>9} {'windows':>8} {'tokens':>10} " + ' '.join(f'{s:>12}' for s in stages) +
          f" {'total s':>8} {'us/question':>11} {'vs 1x':>6}")
    base = None
    for k in [0, *a.scale]:   # 0: a warm-up run on 100 questions, not shown
        ds = Dataset.from_dict(repeat_rows(rows, k) if k else {c: v[:100] for c, v in rows.items()},
                               features=SQUAD_FEATURES)
        gc.collect()
        t = {}
        t0 = time.perf_counter(); feats = tokenize_dataset(ds, tok, train=False)
        t['tokenize'] = time.perf_counter() - t0
        t0 = time.perf_counter(); win = read_windows(feats); t['read windows'] = time.perf_counter() - t0
        rng, cands, t['stage 1'] = np.random.default_rng(a.seed), [], 0.0
        for lo in range(0, len(win), a.batch_size):
            w = win[lo:lo + a.batch_size]
            s, e = rng.normal(size=(2, len(w), int(w.lengths.max()))).astype(np.float32)
            s[np.arange(len(w)), w.cls_index] += 2.5; e[np.arange(len(w)), w.cls_index] += 2.5
            t0 = time.perf_counter(); cands.append(window_candidates(s, e, w))
            t['stage 1'] += time.perf_counter() - t0
        t0 = time.perf_counter(); res = decode_candidates(ds, win, cands); t['stage 2'] = time.perf_counter() - t0
        t0 = time.perf_counter()
        m = squad_v2_score(get_predictions(res), ds, null_score_diff=get_null_score_diffs(res))
        t['metric'] = time.perf_counter() - t0
        total, n = sum(t.values()), len(ds)
        assert len(res) == n and m['total'] == n
        if not k: continue
        base = base or total / n
        print(f"{k:>4}x {n:>9} {len(win):>8} {len(win.context):>10} " + ' '.join(f'{t[s]:>12.3f}' for s in stages) +
              f" {total:>8.2f} {1e6*total/n:>11.1f} {total/n/base:>6.2f}")
        del ds, feats, win, cands, res
    print("\nseconds per stage; us/question: total time per question; "
          "vs 1x: that figure against the first size's (1.00 = linear)."
          "\nThe machine is shared with other jobs: single runs, so expect some noise in each figure.")

if __name__ == '__main__': main()
