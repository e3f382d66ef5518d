"""Would a steadier threshold transfer better? The retrained models of `bench/retrain.py`, their thresholds rechosen.

    python bench/threshold.py runs/retrain-rules runs/retrain-rules-23

A retrain chooses its no-answer threshold as the one best for its held-out questions: the argmax of an F1 curve over
about 400 questions, a noisy choice. For each finished seed folder of the given `bench/retrain.py` runs (a seed in two:
the later run's, as `--collect` reads them), this scores the kept model's held-out questions (`squad_nb evaluate` on
the folder's data/valid.json, once: kept in heldout-eval/), then scores valid.json, from the files the run saved, at

- the threshold best for the held-out questions (what `train_qa` saves), and
- the median of the thresholds best for `--resamples` bootstrap resamples of the held-out questions (seed 0),

and prints both beside the threshold best for valid.json itself. No training: a few minutes on 2 cores."""
import _common  # first: see its docstring
import argparse, json
from pathlib import Path
import numpy as np
from _common import *

def scored(eval_dir, data) -> tuple:
    "A question's best span, F1 and null score difference, and whether it has an answer, from an evaluation folder."
    from squad_nb.data import load_squad
    from squad_nb.metric import raw_scores, gold_answers
    spans = json.loads((Path(eval_dir)/'best_spans.json').read_text())
    odds = json.loads((Path(eval_dir)/'null_odds.json').read_text())
    golds = gold_answers(load_squad(data))
    return spans, raw_scores(spans, golds)[1], odds, {k: bool(v) for k, v in golds.items()}

def f1_at(spans, f1, odds, has, t) -> float:
    "F1 (in %) when the questions whose null score difference is above `t` are answered ''."
    return 100 * np.mean([(not has[k]) if odds[k] > t else (f1[k] if has[k] else 0.0) for k in odds])

def best(spans, f1, odds, has, ids=None) -> float:
    "The threshold best for the questions `ids` (default: all), as `find_best_threshold` finds it."
    from squad_nb.metric import find_best_threshold
    ids = list(odds) if ids is None else ids
    sub = lambda d: {f'{k}#{j}': d[k] for j, k in enumerate(ids)}   # a resampled question counts once per draw
    return find_best_threshold(sub(spans), sub(f1), sub(odds), sub(has))[1]

def bootstrap(scores, resamples, seed=0) -> float:
    "The median of the thresholds best for `resamples` bootstrap resamples of the questions."
    rng, ids = np.random.default_rng(seed), list(scores[2])
    return float(np.median([best(*scores, ids=list(rng.choice(ids, len(ids)))) for _ in range(resamples)]))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('runs', nargs='+', help='--out folders of bench/retrain.py')
    ap.add_argument('--resamples', type=int, default=500)
    a = ap.parse_args()
    header('python bench/threshold.py ' + ' '.join(a.runs) + f' --resamples {a.resamples}')
    retrain = __import__('retrain')
    valid, folders = shared('data', 'squad_v2', 'valid.json'), {}
    for run in map(Path, a.runs):
        for d in sorted(run.glob('*-seed-*')):
            if (d/'retrained-valid'/'metrics.json').exists(): folders[d.name] = d
    rows = []
    for name, d in sorted(folders.items()):
        if not (d/'heldout-eval'/'best_spans.json').exists():
            retrain.cli('evaluate', d/'retrained', '--data', d/'data'/'valid.json', '--output', d/'heldout-eval')
        held, val = scored(d/'heldout-eval', d/'data'/'valid.json'), scored(d/'retrained-valid', valid)
        t, tb, tv = best(*held), bootstrap(held, a.resamples), best(*val)
        rows.append(dict(run=name, chosen=round(f1_at(*val, t), 2), bootstrap=round(f1_at(*val, tb), 2),
                         best=round(f1_at(*val, tv), 2), thresholds=[round(x, 3) for x in (t, tb, tv)]))
    print(f"\nvalid.json F1 at the threshold:\n{'':24}{'best for held-out':>19}{'bootstrap median':>18}"
          f"{'best for valid':>16}")
    for r in rows: print(f"{r['run']:24}{r['chosen']:>19.2f}{r['bootstrap']:>18.2f}{r['best']:>16.2f}")
    d = [r['bootstrap'] - r['chosen'] for r in rows]
    print(f"bootstrap median minus best for held-out: mean {np.mean(d):+.2f}, min {min(d):+.2f}, max {max(d):+.2f} "
          f"over {len(d)} models")
    print(json.dumps(rows))

if __name__ == '__main__': main()
