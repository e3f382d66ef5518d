"""Tokenization speed: squad_nb's `prepare_train_features` against the starting notebook's, same data, same tokenizer.

    python bench/tokenize.py [--scale 1 4 16]

Data: ../shared/data/squad_v2/train.json (3,720 questions); tokenizer: all-MiniLM-L6-v2 (bert-base-uncased
WordPiece, the vocabulary of distilbert-base-uncased). Both functions get the same batch (all rows at once,
as `Dataset.map(batched=True)` gives them 1,000 at a time), best of 3 runs. Then 4x and 16x the rows
(repeated with new ids) to show time per question stays flat."""
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
    a = ap.parse_args()
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
    for name, t in [("starting notebook (padded 384)", t_seed), ("squad_nb, pad=True", t_pad), ("squad_nb (unpadded, default)", t_ours)]:
        print(f"{name:34}{t:9.3f}{n_ours/t:11.0f}")
    print(f"speed-up: {t_seed/t_ours:.2f}x (unpadded), {t_seed/t_pad:.2f}x (padded like the seed)   goal >= 1.5x")
    print(f"\n{'scale':>5}{'questions':>10}{'windows':>9}{'seed s':>9}{'ours s':>9}{'ours us/question':>18}")
    for k in a.scale:
        big = repeat_rows(rows, k)
        ts, _ = best_time(lambda: run_all(seed_fn, big), 1)
        to, n = best_time(lambda: run_all(lambda b: prepare_train_features(b, tok), big), 1)
        print(f"{k:>5}{len(big['id']):>10}{n:>9}{ts:9.2f}{to:9.2f}{1e6*to/len(big['id']):18.1f}")

if __name__ == '__main__': main()
