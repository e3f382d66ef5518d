"""Retrain to a higher F1: a model saved by the starting notebook's own code, evaluated and retrained by squad_nb.

    python bench/retrain.py --out runs/retrain

1. The starting notebook's functions and Trainer settings (../shared/seed: windows padded to 384,
   `default_data_collator`, lr 2e-5, batch 64, weight decay 0.01, 3 epochs scheduled) train all-MiniLM-L6-v2 on
   train.json for `--seed-steps` optimizer steps (16 steps of 64 windows: about a quarter of an epoch), and save it
   with `Trainer.save_model`: weights, config and tokenizer, no squad_nb.json. (`--seed-model` reuses the folder an
   earlier run saved, to measure another retraining of the same model.)
2. `squad_nb retrain` that folder with `--recipe small-squad-cpu`, on train.json less its last article, which is the
   validation split: the epoch and the threshold are chosen on that held-out article, so valid.json is scored blind.
   `--max-minutes` is the training's wall-clock budget (default 19, so that with loading and evaluating the whole
   retraining stays within 20 minutes): its learning-rate schedule is fitted to end then. Further options are passed
   to `squad_nb retrain` as they are (e.g. `--learning-rate 3e-4` or `--answer-head 1`), to measure a setting against
   the recipe.
3. `squad_nb evaluate` on valid.json, before (the saved model) and after (the kept model), at the threshold chosen
   blind (for the saved model, which has none, the best one on the held-out article; after, the one retrain saved)
   and at the best threshold for valid.json (`best_f1`, the usual SQuAD reporting).

`--seeds 42 1 2` repeats steps 2 and 3 with each seed (batch order, dropout, new weights), from the same saved model,
and summarises the gains: one run to the next differs by as much as the gain sought, so a mean says more than a run.

Prints a table, then the results as JSON on the last line (also written to <out>/results.json)."""
import _common  # first: see its docstring
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path
from _common import *

def seed_model(steps, out) -> Path:
    "all-MiniLM-L6-v2 trained by the starting notebook's code for `steps` steps on train.json, saved by `Trainer.save_model`."
    from transformers import Trainer, TrainingArguments, default_data_collator
    from squad_nb.data import load_squad
    from squad_nb.model import load_qa_model
    model, tok = load_qa_model('minilm-local')[:2]
    ptf = seed_module().make_seed_fns(tok)[0]
    tr = load_squad(shared('data', 'squad_v2', 'train.json'))
    tw = tr.map(ptf, batched=True, remove_columns=tr.column_names)
    args = TrainingArguments(output_dir=str(out/'seed-checkpoints'), eval_strategy='no', learning_rate=2e-5, per_device_train_batch_size=64,
                             num_train_epochs=3, max_steps=steps, weight_decay=0.01, use_cpu=True, report_to='none', save_strategy='no',
                             logging_steps=4, seed=42, disable_tqdm=True)
    t = Trainer(model=model, args=args, train_dataset=tw, data_collator=default_data_collator, processing_class=tok)
    t.train(); t.save_model(str(out/'seed-model'))
    return out/'seed-model'

def split_train(out) -> tuple:
    "A folder whose train.json is train.json less its last article, and whose valid.json is that article."
    d = json.loads(shared('data', 'squad_v2', 'train.json').read_text(encoding='utf-8'))
    folder = out/'data'; folder.mkdir(parents=True, exist_ok=True)
    (folder/'train.json').write_text(json.dumps(dict(d, data=d['data'][:-1])), encoding='utf-8')
    (folder/'valid.json').write_text(json.dumps(dict(d, data=d['data'][-1:])), encoding='utf-8')
    return folder, d['data'][-1]['title']

def cli(*args) -> dict:
    "Run a `squad_nb` command; its result (the JSON of its last line)."
    p = subprocess.run([sys.executable, '-m', 'squad_nb.cli', *map(str, args)], capture_output=True, text=True)
    if p.returncode: sys.exit(f"squad_nb {args[0]} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])

def auc(eval_dir, data) -> float:
    "ROC AUC of the null score differences, unanswerable questions being the positives."
    from squad_nb.data import load_squad
    odds, va = json.loads((eval_dir/'null_odds.json').read_text()), load_squad(data)
    neg = [odds[r['id']] for r in va if not r['answers']['text']]; pos = [odds[r['id']] for r in va if r['answers']['text']]
    return sum((n > p) + 0.5 * (n == p) for n in neg for p in pos) / (len(neg) * len(pos))

def row(name, m, eval_dir, valid) -> dict:
    return dict(model=name, f1_blind=round(m['f1'], 2), exact_blind=round(m['exact'], 2), threshold=round(m['null_threshold'], 3),
                best_f1=round(m['best_f1'], 2), HasAns_f1_forced=round(m.get('HasAns_f1_forced', float('nan')), 2), auc=round(auc(eval_dir, valid), 3))

def retrain_once(saved, folder, out, a, extra, valid, held_thr, seed_nr=None) -> dict:
    "Retrain the saved model (with seed `seed_nr`, else retrain's default) into `out`, and score the kept model on valid.json."
    t0 = time.time(); opts = extra + (['--seed', seed_nr] if seed_nr is not None else [])
    rt = cli('retrain', saved, '--data', folder, '--output', out/'retrained', '--recipe', 'small-squad-cpu', '--epochs', a.epochs, '--max-minutes', a.max_minutes, *opts)
    secs = time.time() - t0
    thr = ['--threshold', held_thr] if rt['kept'] == 'original' else []  # the saved model has no threshold of its own: the one chosen for it blind
    after = cli('evaluate', out/'retrained', '--data', valid, '--output', out/'retrained-valid', *thr)
    name = f'retrained, seed {seed_nr}' if seed_nr is not None else 'retrained'
    return dict(row(f'{name} ({rt["kept"]} kept)', after, out/'retrained-valid', valid), minutes=round(secs / 60, 1),
                heldout_best_f1=round(rt['after']['best_f1'], 2), kept=rt['kept'])

def main():
    # no abbreviations: `--seed 1` is passed on to squad_nb retrain, not taken for --seed-steps or --seed-model
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    ap.add_argument('--seed-steps', type=int, default=16, help="the starting notebook's training, in steps of 64 windows (default 16)")
    ap.add_argument('--epochs', type=float, default=6, help='epochs of the retraining (default 6)')
    ap.add_argument('--max-minutes', type=float, default=19, help="the training's wall-clock budget; its schedule ends then (default 19)")
    ap.add_argument('--seed-model', default=None, help="a folder saved by step 1 of an earlier run, to skip that step")
    ap.add_argument('--seeds', type=int, nargs='+', default=None, help="retrain once with each of these seeds (default: once, with retrain's default seed)")
    ap.add_argument('--out', default=None)
    a, extra = ap.parse_known_args()
    if a.seeds and '--seed' in extra: ap.error('give --seeds or --seed, not both')
    out = Path(a.out or tempfile.mkdtemp()); out.mkdir(parents=True, exist_ok=True)
    header(f'python bench/retrain.py --seed-steps {a.seed_steps} --epochs {a.epochs:g} --max-minutes {a.max_minutes:g} --out {out}'
           + (f' --seed-model {a.seed_model}' if a.seed_model else '') + (f' --seeds {" ".join(map(str, a.seeds))}' if a.seeds else '') + ''.join(f' {x}' for x in extra))
    valid = shared('data', 'squad_v2', 'valid.json')
    t0 = time.time(); seed = Path(a.seed_model) if a.seed_model else seed_model(a.seed_steps, out); seed_secs = time.time() - t0
    folder, title = split_train(out)
    held = cli('evaluate', seed, '--data', folder/'valid.json', '--output', out/'seed-heldout')
    before = cli('evaluate', seed, '--data', valid, '--threshold', held['best_threshold'], '--output', out/'seed-valid')
    runs = [retrain_once(seed, folder, out/(f'seed-{n}' if a.seeds else ''), a, extra, valid, held['best_threshold'], n) for n in (a.seeds or [None])]
    rows = [row('saved by the starting notebook', before, out/'seed-valid', valid), *runs]
    gains = [round(r['f1_blind'] - rows[0]['f1_blind'], 2) for r in runs]; best_gains = [round(r['best_f1'] - rows[0]['best_f1'], 2) for r in runs]
    res = dict(seed_steps=a.seed_steps, retrain_options=extra, seeds=a.seeds, seed_seconds=round(seed_secs), heldout_article=title,
               heldout_best_f1_before=round(held['best_f1'], 2), valid=rows, gain_f1_blind=gains, gain_best_f1=best_gains,
               mean_gain_f1_blind=round(sum(gains) / len(gains), 2), mean_gain_best_f1=round(sum(best_gains) / len(gains), 2))
    (out/'results.json').write_text(json.dumps(res, indent=1))
    print(f"\nvalid.json ({len(json.loads(valid.read_text())['data'])} articles); threshold chosen blind on the held-out article {title!r}")
    print(f"{'':38}{'F1 blind':>10}{'EM blind':>10}{'threshold':>11}{'best F1':>9}{'forced HasAns F1':>18}{'AUC':>7}{'minutes':>9}")
    for r in rows: print(f"{r['model']:38}{r['f1_blind']:>10.2f}{r['exact_blind']:>10.2f}{r['threshold']:>11.3f}{r['best_f1']:>9.2f}{r['HasAns_f1_forced']:>18.2f}{r['auc']:>7.3f}{r.get('minutes', ''):>9}")
    print(f"\nF1 at the blind threshold {', '.join(f'{g:+.2f}' for g in gains)}; best F1 {', '.join(f'{g:+.2f}' for g in best_gains)}"
          + (f"\nmean over {len(gains)} seeds: {res['mean_gain_f1_blind']:+.2f} blind (from {min(gains):+.2f} to {max(gains):+.2f}), best F1 {res['mean_gain_best_f1']:+.2f}" if len(gains) > 1 else ''))
    print(json.dumps(res))

if __name__ == '__main__': main()
