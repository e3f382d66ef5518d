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

def scored(eval_dir, data) -> dict:
    "Each question's best span, its F1, null score difference, gold answers and whether it has one, from a folder."
    from squad_nb.data import load_squad
    from squad_nb.metric import raw_scores, gold_answers
    spans = json.loads((Path(eval_dir)/'best_spans.json').read_text())
    golds = gold_answers(load_squad(data))
    return dict(spans=spans, f1=raw_scores(spans, golds)[1], golds=golds, has={k: bool(g) for k, g in golds.items()},
                odds=json.loads((Path(eval_dir)/'null_odds.json').read_text()))

def f1_at(q, t) -> float:
    "F1 (in %) once the questions whose null score difference is above `t` are answered ''."
    from squad_nb.metric import apply_threshold, raw_scores
    return 100 * float(np.mean(list(raw_scores(apply_threshold(q['spans'], q['odds'], t), q['golds'])[1].values())))

def best(q, ids=None) -> float:
    "The threshold best for the questions `ids` (default: all), as `find_best_threshold` finds it."
    from squad_nb.metric import find_best_threshold
    ids = list(q['odds']) if ids is None else ids
    sub = lambda d: {f'{k}#{j}': d[k] for j, k in enumerate(ids)}   # a resampled question counts once per draw
    return find_best_threshold(sub(q['spans']), sub(q['f1']), sub(q['odds']), sub(q['has']))[1]

def bootstrap(q, resamples, seed=0) -> float:
    "The median of the thresholds best for `resamples` bootstrap resamples of the questions."
    rng, ids = np.random.default_rng(seed), list(q['odds'])
    return float(np.median([best(q, ids=list(rng.choice(ids, len(ids)))) for _ in range(resamples)]))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('runs', nargs='+', help='--out folders of bench/retrain.py')
    ap.add_argument('--resamples', type=int, default=500)
    a = ap.parse_args()
    header('python bench/threshold.py ' + ' '.join(a.runs) + f' --resamples {a.resamples}')
    retrain = __import__('retrain')
    valid, rows = shared('data', 'squad_v2', 'valid.json'), []
    for name, d in sorted(retrain.finished(a.runs).items()):
        if not (d/'heldout-eval'/'best_spans.json').exists():
            retrain.cli('evaluate', d/'retrained', '--data', d/'data'/'valid.json', '--output', d/'heldout-eval')
        held, val = scored(d/'heldout-eval', d/'data'/'valid.json'), scored(d/'retrained-valid', valid)
        t, tb, tv = best(held), bootstrap(held, a.resamples), best(val)
        rows.append(dict(run=name, chosen=round(f1_at(val, t), 2), bootstrap=round(f1_at(val, tb), 2),
                         best=round(f1_at(val, tv), 2), thresholds=[round(x, 3) for x in (t, tb, tv)]))
    print(f"\nvalid.json F1 at the threshold:\n{'':24}{'best for held-out':>19}{'bootstrap median':>18}"
          f"{'best for valid':>16}")
    for r in rows: print(f"{r['run']:24}{r['chosen']:>19.2f}{r['bootstrap']:>18.2f}{r['best']:>16.2f}")
    d = [r['bootstrap'] - r['chosen'] for r in rows]
    print(f"bootstrap median minus best for held-out: mean {np.mean(d):+.2f}, min {min(d):+.2f}, max {max(d):+.2f} "
          f"over {len(d)} models")
    print(json.dumps(rows))

if __name__ == '__main__': main()
