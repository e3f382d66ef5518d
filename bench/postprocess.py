"""Benchmark squad_nb.postprocess against the starting notebook's post-processing, on the same logits.

    python bench/postprocess.py [--data ../shared/data/squad_v2/valid.json] [--seed 0]

Builds the validation windows of an official SQuAD v2 file with the MiniLM tokenizer (max_length 384,
doc_stride 128), draws seeded random logits, times the starting notebook's `postprocess_qa_predictions`
(its own padded windows) and `squad_nb.postprocess.postprocess_qa_predictions` (unpadded windows) on the
same logits, checks our answers against the plain-loop reference (tests/reference_postprocess.py),
explains where they differ from the starting notebook's, and times 1x/4x/16x copies of the data."""
import os, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
# run as a script, bench/ comes first on sys.path: keep its files from shadowing modules of the standard library
sys.path = ([str(ROOT), str(ROOT/'tests'), str(ROOT/'..'/'shared'/'seed')]
            + [p for p in sys.path if Path(p or '.').resolve() != ROOT/'bench'])
import argparse, gc, time
import numpy as np, pyarrow as pa, pyarrow.compute as pc
import datasets
from datasets import Dataset
from datasets.table import InMemoryTable
from seed_reference import make_seed_fns
from reference_postprocess import reference_postprocess
from squad_nb.data import load_squad
from squad_nb.features import load_tokenizer, tokenize_dataset
from squad_nb.postprocess import (postprocess_qa_predictions, get_predictions, get_null_score_diffs, read_windows,
                                  window_candidates)

def best_of(f, n):
    "Best wall time of `n` calls of `f` in seconds, and its last result (garbage collection paused, as `timeit` does)."
    best = float('inf')
    gc.collect(); gc.disable()
    try:
        for _ in range(n):
            t = time.perf_counter(); r = f(); best = min(best, time.perf_counter() - t)
    finally: gc.enable()
    return best, r

def ours(examples, feats, s, e):
    "Our post-processing as evaluation uses it: predictions and null odds."
    res = postprocess_qa_predictions(examples, feats, s, e)
    return res, get_predictions(res), get_null_score_diffs(res)

def same_as_reference(res, ref):
    "Number of examples whose answer, scores, characters and n-best list equal the reference's."
    keys = ('text', 'score', 'start_char', 'end_char', 'null_score', 'null_score_diff', 'prediction')
    strip = lambda nb: [(c['text'], c['start_char'], c['end_char'], c['score']) for c in nb]
    probs = lambda nb: [c['probability'] for c in nb]
    return sum(all(res[i][k] == ref[i][k] for k in keys) and strip(res[i]['nbest']) == strip(ref[i]['nbest'])
               and np.allclose(probs(res[i]['nbest']), probs(ref[i]['nbest']), rtol=1e-9, atol=0)
               for i in ref)

def copies(examples, feats, s, e, n):
    "`n` copies of the examples (ids suffixed #1, #2, ...) with their windows and logits."
    if n == 1: return examples, feats, s, e
    def suffixed(ds, col):
        t = ds.data.table
        return pa.concat_tables([t.set_column(t.column_names.index(col), col,
                                              pc.binary_join_element_wise(t.column(col), pa.scalar(f'#{r}'), ''))
                                 for r in range(n)])
    return (Dataset(InMemoryTable(suffixed(examples, 'id'))), Dataset(InMemoryTable(suffixed(feats, 'example_id'))),
            np.tile(s, (n, 1)), np.tile(e, (n, 1)))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='../shared/data/squad_v2/valid.json')
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    print(f"$ python bench/postprocess.py --data {a.data} --seed {a.seed}    (from the repository root)\n")
    datasets.disable_progress_bars()
    tok = load_tokenizer()
    examples = load_squad(a.data)
    feats = tokenize_dataset(examples, tok, train=False)                      # unpadded windows
    _, seed_prepare, seed_post = make_seed_fns(tok)
    seed_feats = examples.map(seed_prepare, batched=True, remove_columns=examples.column_names)   # padded to 384
    W = len(feats)
    assert len(seed_feats) == W and seed_feats['example_id'] == feats['example_id'], 'the two tokenizations differ'
    assert all(so[:len(o)] == o and not any(so[len(o):])
               for so, o in zip(seed_feats['offset_mapping'], feats['offset_mapping']))
    rng = np.random.default_rng(a.seed)
    s, e = rng.normal(size=(2, W, 384)).astype(np.float32)
    s[:, 0] += 2.5; e[:, 0] += 2.5         # CLS shifted so that about half of the questions come out unanswered
    lens = np.array([len(o) for o in feats['offset_mapping']])
    print(f"data: {a.data}: {len(examples)} questions, {W} windows (max_length 384, doc_stride 128; "
          f"{(lens < 384).sum()} windows shorter than 384, median {int(np.median(lens))} tokens)")
    print(f"logits: random normal float32 [{W}, 384], seed {a.seed}, CLS logits +2.5; "
          f"machine: {len(os.sched_getaffinity(0))} CPU cores, numpy {np.__version__}\n")

    t_seed, seed_preds = best_of(lambda: seed_post(examples, seed_feats, (s, e)), 10)
    t_ours, (res, preds, odds) = best_of(lambda: ours(examples, feats, s, e), 200)
    print(f"starting notebook's postprocess_qa_predictions  {t_seed*1e3:8.2f} ms  (best of 10)")
    print(f"squad_nb postprocess_qa_predictions             {t_ours*1e3:8.2f} ms  "
          "(best of 200; predictions + null odds)")
    print(f"speed-up                                        {t_seed/t_ours:8.1f}x  (goal: >= 50x)\n")

    ref = reference_postprocess(examples, feats, s, e)
    n_same = same_as_reference(res, ref)
    print(f"same answers as the plain-loop reference (tests/reference_postprocess.py): {n_same}/{len(ref)} examples "
          f"(text, score, chars, null score, prediction, n-best) -> {'OK' if n_same == len(ref) else 'MISMATCH'}")
    diff = [i for i in preds if preds[i] != seed_preds[i]]
    print(f"predictions that differ from the starting notebook's: {len(diff)} of {len(preds)}")
    pred = lambda r: {i: r[i]['prediction'] for i in r}
    both = pred(reference_postprocess(examples, seed_feats, s, e, null='max', topk='all'))
    null_only = pred(reference_postprocess(examples, feats, s, e, null='max'))
    topk_only = pred(reference_postprocess(examples, seed_feats, s, e, topk='all'))
    print(f"  the reference with both of the starting notebook's rules reproduces it: "
          f"{sum(both[i] == seed_preds[i] for i in preds)}/{len(preds)}")
    ex_of_window = pc.index_in(feats.data.column('example_id'), value_set=examples.data.column('id')).to_numpy()
    multi = int((np.bincount(ex_of_window) > 1).sum())
    null_changed = [i for i in preds if null_only[i] != preds[i]]
    print(f"  changed by the null rule alone (largest -> smallest CLS score over windows): {len(null_changed)}"
          f" (all among the {multi} questions with 2+ windows: "
          f"{all(feats['example_id'].count(i) > 1 for i in null_changed)})")
    print(f"  changed by the top-k rule alone (top-k over all 384 positions, then drop non-context): "
          f"{sum(topk_only[i] != preds[i] for i in preds)}")
    n_inf = int(np.isinf(res.null_score_diff).sum())
    print(f"  unanswered: ours {sum(p == '' for p in preds.values())}, "
          f"starting notebook {sum(p == '' for p in seed_preds.values())}; "
          f"questions with no valid span: {n_inf}\n")

    win = read_windows(feats)
    c = window_candidates(s[:64], e[:64], win[:64])
    state = sum(getattr(c, f).nbytes for f in ('start_pos', 'start_logit', 'end_pos', 'end_logit', 'cls_score')) / 64
    print(f"stage-1 state kept per window for streaming: {state:.0f} bytes (its logits: {2*384*4} bytes)\n")

    print("scaling (examples repeated with new ids, with their windows and logits):")
    print(f"{'copies':>6} {'questions':>9} {'windows':>8} {'time ms':>9} {'us/window':>10}")
    for n in (1, 4, 16):
        ex_n, f_n, s_n, e_n = copies(examples, feats, s, e, n)
        t, (r_n, p_n, _) = best_of(lambda: ours(ex_n, f_n, s_n, e_n), max(3, 40 // n))
        assert [p_n[f'{i}#0' if n > 1 else i] for i in preds] == list(preds.values())
        print(f"{n:>6} {len(ex_n):>9} {len(f_n):>8} {t*1e3:>9.2f} {t/len(f_n)*1e6:>10.2f}")

if __name__ == '__main__': main()
