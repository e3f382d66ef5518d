"""Tokenization speed: squad_nb's `prepare_train_features` against the starting notebook's, same data, same
tokenizer.

    python bench/tokenize.py [--scale 1 4 16]
    python bench/tokenize.py --num-proc 1 2 [--scale 1 4 16]

Data: ../shared/data/squad_v2/train.json (3,720 questions); tokenizer: all-MiniLM-L6-v2 (bert-base-uncased
WordPiece, the vocabulary of distilbert-base-uncased). Both functions get the same batch (all rows at once,
as `Dataset.map(batched=True)` gives them 1,000 at a time), best of 3 runs. Then 4x and 16x the rows
(repeated with new ids) to show time per question stays flat.

With `--num-proc N ...`: instead, `features.tokenize_dataset` (what training runs:
`Dataset.map(batched=True, num_proc=N)`) on 1x/4x/16x the training set with each N, one run each (start-up of the
worker processes included), and a check that every N gives the same windows."""
import _common  # first: moves this folder to the end of sys.path (this file's name shadows the stdlib's tokenize)
import argparse, copy
from _common import *
from squad_nb.data import load_squad
from squad_nb.features import load_tokenizer, prepare_train_features

def batches(rows, size=1000):
    "Split a dict of lists into `Dataset.map`-sized batches."
    n = len(rows['id'])
    return [{k: v[i:i+size] for k, v in rows.items()} for i in range(0, n, size)]

def run_all(fn, rows):
    out = [fn(b) for b in batches(rows)]
    return sum(len(o['input_ids']) for o in out)

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--scale', type=int, nargs='*', default=[1, 4, 16])
    ap.add_argument('--num-proc', type=int, nargs='*',
                    help='compare Dataset.map with these numbers of processes instead (e.g. 1 2)')
    a = ap.parse_args()
    if a.num_proc: return num_proc_table(a)
    header('python bench/tokenize.py ' + ' '.join(['--scale', *map(str, a.scale)]))
    tok = load_tokenizer('minilm-local')
    rows = load_squad(shared('data', 'squad_v2', 'train.json'))[:]
    seed_train = seed_module().make_seed_fns(tok)[0]
    seed_fn = lambda b: seed_train(copy.deepcopy(b))   # the seed edits its batch in place (lstrip)
    t_seed, n_seed = best_time(lambda: run_all(seed_fn, rows))
    t_ours, n_ours = best_time(lambda: run_all(lambda b: prepare_train_features(b, tok), rows))
    t_pad, _ = best_time(lambda: run_all(lambda b: prepare_train_features(b, tok, pad=True), rows))
    assert n_seed == n_ours, (n_seed, n_ours)
    print(f"\n{len(rows['id'])} questions -> {n_ours} windows")
    print(f"{'':34}{'seconds':>9}{'windows/s':>11}")
    for name, t in [("starting notebook (padded 384)", t_seed), ("squad_nb, pad=True", t_pad),
                    ("squad_nb (unpadded, default)", t_ours)]:
        print(f"{name:34}{t:9.3f}{n_ours/t:11.0f}")
    print(f"speed-up: {t_seed/t_ours:.2f}x (unpadded), {t_seed/t_pad:.2f}x (padded like the seed)   goal >= 1.5x")
    print(f"\n{'scale':>5}{'questions':>10}{'windows':>9}{'seed s':>9}{'ours s':>9}{'ours us/question':>18}")
    for k in a.scale:
        big = repeat_rows(rows, k)
        ts, _ = best_time(lambda: run_all(seed_fn, big), 1)
        to, n = best_time(lambda: run_all(lambda b: prepare_train_features(b, tok), big), 1)
        print(f"{k:>5}{len(big['id']):>10}{n:>9}{ts:9.2f}{to:9.2f}{1e6*to/len(big['id']):18.1f}")

def num_proc_table(a):
    "Seconds of `tokenize_dataset` with each `--num-proc`, on each `--scale` of the training set."
    import os, datasets, numpy as np
    from datasets import Dataset
    from squad_nb.data import SQUAD_FEATURES
    from squad_nb.features import tokenize_dataset
    header('python bench/tokenize.py ' + ' '.join(['--num-proc', *map(str, a.num_proc), '--scale',
                                                   *map(str, a.scale)]))
    datasets.disable_progress_bars()
    tok = load_tokenizer('minilm-local')
    rows = load_squad(shared('data', 'squad_v2', 'train.json'))[:]
    print(f"# tokenize_dataset(train=True) on train.json repeated; "
          f"TOKENIZERS_PARALLELISM={os.environ.get('TOKENIZERS_PARALLELISM', '(unset)')}; "
          f"CPU cores available: {len(os.sched_getaffinity(0))}; one run each, worker start-up included\n")
    tokenize_dataset(Dataset.from_dict({k: v[:200] for k, v in rows.items()}, features=SQUAD_FEATURES), tok)  # warm-up
    print(f"{'scale':>5}{'questions':>10}{'windows':>9}" + ''.join(f"{f'N={n} s':>10}" for n in a.num_proc) +
          ''.join(f"{f'N={n} vs N={a.num_proc[0]}':>14}" for n in a.num_proc[1:]))
    for k in a.scale:
        ds = Dataset.from_dict(repeat_rows(rows, k), features=SQUAD_FEATURES)
        times, ref = [], None
        for n in a.num_proc:
            t, out = best_time(lambda: tokenize_dataset(ds, tok, num_proc=n), 1)
            sig = (len(out), out['start_positions'], out['end_positions'], np.concatenate(out['input_ids'][:]).sum())
            assert ref is None or sig == ref, f"num_proc={n} gives other windows than num_proc={a.num_proc[0]}"
            ref, _ = sig, times.append(t)
        print(f"{k:>5}{len(ds):>10}{ref[0]:>9}" + ''.join(f"{t:>10.2f}" for t in times) +
              ''.join(f"{times[0]/t:>13.2f}x" for t in times[1:]))
    print("\nN=n vs N=first: speed-up (above 1: faster). Other jobs share this machine's cores, "
          "so a second process only helps\nwhen a core is idle; on a busy machine N=2 can be slower than N=1.")

if __name__ == '__main__': main()
