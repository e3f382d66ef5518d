"""Retrain to a higher F1: a model saved by the starting notebook's own code, evaluated and retrained by squad_nb.

    python bench/retrain.py --out runs/retrain

1. The starting notebook's functions and Trainer settings (../shared/seed: windows padded to 384,
   `default_data_collator`, lr 2e-5, batch 64, weight decay 0.01, 3 epochs scheduled) train all-MiniLM-L6-v2 on
   train.json for `--seed-steps` optimizer steps (16 steps of 64 windows: about a quarter of an epoch), and save it
   with `Trainer.save_model`: weights, config and tokenizer, no squad_nb.json. (`--seed-model` reuses the folder an
   earlier run saved, to measure another retraining of the same model.)
2. `squad_nb retrain` that folder with `--recipe small-squad-cpu`, on train.json less a held-out part, which is the
   validation split: the epoch and the threshold are chosen on it, so valid.json is scored blind. The held-out part is
   `squad_nb.data.hold_out(train, --heldout-share, seed, by)`: a tenth of every article's paragraphs (`--heldout-by
   paragraph`, the default; the seed of each retrain draws its own), or the last article (`--heldout-by article`, the
   rule before). `--max-minutes` is the training's wall-clock budget (default 19, so that with loading and evaluating
   the whole retraining stays within 20 minutes): its learning-rate schedule is fitted to end then. Further options
   are passed to `squad_nb retrain` as they are (e.g. `--learning-rate 3e-4` or `--answer-head 1`), to measure a
   setting against the recipe.
3. `squad_nb evaluate` on valid.json, before (the saved model) and after (the kept model), at the threshold chosen
   blind (for the saved model, which has none, the best one on the held-out article; after, the one retrain saved)
   and at the best threshold for valid.json (`best_f1`, the usual SQuAD reporting).

`--seeds 42 1 2` repeats steps 2 and 3 with each seed (batch order, dropout, new weights, held-out paragraphs), from
the same saved model, and summarises the gains: one run to the next differs by as much as the gain sought, so a mean
says more than a run. `--heldout-by paragraph article` compares the two rules: for each seed both retrains run at once,
each pinned to a core of its own with one thread, so that they share the machine's state.

    python bench/retrain.py --seed-model runs/seed-model-16 --batch-size 16 --epochs 8 --seeds 42 1 2 3 \
        --heldout-by paragraph article --out runs/retrain-rules

Prints a table, then the results as JSON on the last line (also written to <out>/results.json).

A run that was stopped keeps each seed it finished in its folder (`<rule>-seed-<n>/`): `--collect` summarises the
finished seeds of one or more earlier `--out` folders without training, from the metrics they saved, so a run stopped
after two seeds and one of the two seeds left are read as one:

    python bench/retrain.py --collect runs/retrain-rules runs/retrain-rules-23"""
import _common  # first: see its docstring
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from _common import *

def seed_model(steps, out) -> Path:
    ("all-MiniLM-L6-v2 trained by the starting notebook's code for `steps` steps on train.json, "
     "saved by `Trainer.save_model`.")
    from transformers import Trainer, TrainingArguments, default_data_collator
    from squad_nb.data import load_squad
    from squad_nb.model import load_qa_model
    model, tok = load_qa_model('minilm-local')[:2]
    ptf = seed_module().make_seed_fns(tok)[0]
    tr = load_squad(shared('data', 'squad_v2', 'train.json'))
    tw = tr.map(ptf, batched=True, remove_columns=tr.column_names)
    args = TrainingArguments(output_dir=str(out/'seed-checkpoints'), eval_strategy='no', learning_rate=2e-5,
                             per_device_train_batch_size=64, num_train_epochs=3, max_steps=steps, weight_decay=0.01,
                             use_cpu=True, report_to='none', save_strategy='no', logging_steps=4, seed=42,
                             disable_tqdm=True)
    t = Trainer(model=model, args=args, train_dataset=tw, data_collator=default_data_collator, processing_class=tok)
    t.train(); t.save_model(str(out/'seed-model'))
    return out/'seed-model'

def write_squad_json(ds, path):
    ("Rows of a SQuAD `Dataset` (with `plausible_answers`) as an official SQuAD v2 JSON file, "
     "articles and paragraphs in row order.")
    arts = {}
    for r in ds:
        ans = lambda a: [dict(text=t, answer_start=s) for t, s in zip(a['text'], a['answer_start'])]
        q = dict(id=r['id'], question=r['question'], answers=ans(r['answers']), is_impossible=not r['answers']['text'])
        if q['is_impossible']: q['plausible_answers'] = ans(r['plausible_answers'])
        arts.setdefault(r['title'], {}).setdefault(r['context'], []).append(q)
    data = [dict(title=t, paragraphs=[dict(context=c, qas=qs) for c, qs in ps.items()]) for t, ps in arts.items()]
    Path(path).write_text(json.dumps(dict(version='v2.0', data=data)), encoding='utf-8')

def split_train(folder, by, share, seed) -> tuple:
    "A folder whose train.json is train.json less a held-out part (`hold_out`), and whose valid.json is that part."
    from squad_nb.data import load_squad, hold_out
    dd = hold_out(load_squad(shared('data', 'squad_v2', 'train.json'), plausible=True), share, seed, by)
    folder.mkdir(parents=True, exist_ok=True)
    for split, name in (('train', 'train.json'), ('validation', 'valid.json')):
        write_squad_json(dd[split], folder/name)
    return folder, f"{len(dd['validation'])} questions of {len(set(dd['validation']['title']))} article(s)"

def _run(args, core=None):
    "Start a `squad_nb` command, pinned to `core` with one thread when given."
    pin = ['taskset', '-c', str(core)] if core is not None else []
    env = dict(os.environ, OMP_NUM_THREADS='1') if core is not None else None
    return subprocess.Popen([*pin, sys.executable, '-m', 'squad_nb.cli', *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)

def _result(p) -> dict:
    "The result of a started command (the JSON of its last line); exit with its error if it failed."
    out, err = p.communicate()
    if p.returncode: sys.exit(f"squad_nb {p.args[p.args.index('squad_nb.cli') + 1]} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])

def cli(*args, core=None) -> dict:
    "Run a `squad_nb` command; its result (the JSON of its last line)."
    return _result(_run(args, core))

def auc(eval_dir, data) -> float:
    "ROC AUC of the null score differences, unanswerable questions being the positives."
    from squad_nb.data import load_squad
    odds, va = json.loads((eval_dir/'null_odds.json').read_text()), load_squad(data)
    neg = [odds[r['id']] for r in va if not r['answers']['text']]
    pos = [odds[r['id']] for r in va if r['answers']['text']]
    return sum((n > p) + 0.5 * (n == p) for n in neg for p in pos) / (len(neg) * len(pos))

def row(name, m, eval_dir, valid) -> dict:
    return dict(model=name, f1_blind=round(m['f1'], 2), exact_blind=round(m['exact'], 2),
                threshold=round(m['null_threshold'], 3), best_f1=round(m['best_f1'], 2),
                HasAns_f1_forced=round(m.get('HasAns_f1_forced', float('nan')), 2), auc=round(auc(eval_dir, valid), 3))

def before(seed, folder, valid, core=None) -> tuple:
    ("The saved model scored on valid.json at the threshold chosen for it on the held-out part of `folder`; "
     "that threshold.")
    held = cli('evaluate', seed, '--data', folder/'valid.json', '--output', folder/'seed-heldout', core=core)
    m = cli('evaluate', seed, '--data', valid, '--threshold', held['best_threshold'], '--output', folder/'seed-valid',
            core=core)
    return row('saved by the starting notebook', m, folder/'seed-valid', valid), held['best_threshold']

def start_retrain(saved, folder, out, a, extra, seed_nr=None, core=None):
    "Start retraining the saved model (with seed `seed_nr`, else retrain's default) on `folder` into `out`."
    opts = extra + (['--seed', seed_nr] if seed_nr is not None else [])
    return _run(['retrain', saved, '--data', folder, '--output', out/'retrained', '--recipe', 'small-squad-cpu',
                 '--epochs', a.epochs, '--max-minutes', a.max_minutes, *opts], core), time.time()

def finish_retrain(started, out, valid, held_thr, name, core=None) -> dict:
    "Wait for a started retrain, and score the kept model on valid.json."
    rt = _result(started[0]); secs = time.time() - started[1]
    # the saved model has no threshold of its own: the one chosen for it blind
    thr = ['--threshold', held_thr] if rt['kept'] == 'original' else []
    after = cli('evaluate', out/'retrained', '--data', valid, '--output', out/'retrained-valid', *thr, core=core)
    return dict(row(f'{name} ({rt["kept"]} kept)', after, out/'retrained-valid', valid), minutes=round(secs / 60, 1),
                heldout_best_f1=round(rt['after']['best_f1'], 2), kept=rt['kept'])

def summary(gains) -> dict:
    "Mean, minimum, maximum and standard deviation of `gains`."
    return dict(mean=round(statistics.mean(gains), 2), min=min(gains), max=max(gains),
                sd=round(statistics.stdev(gains), 2) if len(gains) > 1 else 0.0)

def _metrics(path) -> dict: return json.loads(Path(path).read_text())

def finished(outs) -> dict:
    "Every finished `<rule>-seed-<n>` folder of the runs `outs`, by name (a seed in two: the later run's)."
    return {d.name: d for out in map(Path, outs) for d in sorted(out.glob('*-seed-*'))
            if (d/'retrained-valid'/'metrics.json').exists()}   # else a seed the run did not finish

def collect(outs) -> dict:
    "The gains of every finished `<rule>-seed-<n>` folder in `outs` (a seed in two: the later `out`'s), by rule."
    rules = {}
    for name, d in finished(outs).items():
        by, n = name.split('-seed-')
        b, a = _metrics(d/'data'/'seed-valid'/'metrics.json'), _metrics(d/'retrained-valid'/'metrics.json')
        log = d/'retrained'/'log_history.json'
        last = json.loads(log.read_text())[-1] if log.exists() else {}
        rules.setdefault(by, {})[int(n)] = dict(
            seed=int(n), before=round(b['f1'], 2), after=round(a['f1'], 2), gain=round(a['f1'] - b['f1'], 2),
            best_gain=round(a['best_f1'] - b['best_f1'], 2), blind_cost=round(a['best_f1'] - a['f1'], 2),
            steps=last.get('step'), train_minutes=round(last['train_runtime'] / 60, 1) if last else None)
    return {by: list(rows.values()) for by, rows in rules.items()}

def print_collected(rules):
    "A line per seed and the summaries of the gains, for each rule."
    for by, rows in rules.items():
        print(f"\nheld out by {by}:\n{'seed':>6}{'F1 blind before':>17}{'after':>8}{'gain':>8}{'best F1 gain':>14}"
              f"{'steps':>7}{'training minutes':>18}")
        for r in sorted(rows, key=lambda r: r['seed']):
            print(f"{r['seed']:>6}{r['before']:>17.2f}{r['after']:>8.2f}{r['gain']:>+8.2f}{r['best_gain']:>+14.2f}"
                  f"{r['steps'] or '':>7}{r['train_minutes'] or '':>18}")
        b, bb = summary([r['gain'] for r in rows]), summary([r['best_gain'] for r in rows])
        print(f"{len(rows)} seeds. gain at the blind threshold: mean {b['mean']:+.2f}, min {b['min']:+.2f}, "
              f"max {b['max']:+.2f}, sd {b['sd']:.2f}; in best F1: mean {bb['mean']:+.2f}, min {bb['min']:+.2f}, "
              f"sd {bb['sd']:.2f}")
    print(json.dumps(rules))

def main():
    if '--collect' in sys.argv:   # summarise earlier runs: no other option applies
        header('python bench/retrain.py ' + ' '.join(sys.argv[1:]))
        return print_collected(collect(sys.argv[sys.argv.index('--collect') + 1:]))
    # no abbreviations: `--seed 1` is passed on to squad_nb retrain, not taken for --seed-steps or --seed-model
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 allow_abbrev=False)
    ap.add_argument('--seed-steps', type=int, default=16,
                    help="the starting notebook's training, in steps of 64 windows (default 16)")
    ap.add_argument('--epochs', type=float, default=6, help='epochs of the retraining (default 6)')
    ap.add_argument('--max-minutes', type=float, default=19,
                    help="the training's wall-clock budget; its schedule ends then (default 19)")
    ap.add_argument('--seed-model', default=None, help="a folder saved by step 1 of an earlier run, to skip that step")
    ap.add_argument('--seeds', type=int, nargs='+', default=None,
                    help="retrain once with each of these seeds (default: once, with retrain's default seed)")
    ap.add_argument('--heldout-by', nargs='+', choices=['paragraph', 'article'], default=['paragraph'],
                    help="what is held out of train.json to choose on: a share of every article's paragraphs "
                         "(default), or the last article; both: compared, the two retrains of a seed at once, "
                         "one core each")
    ap.add_argument('--heldout-share', type=float, default=0.1, help='share held out (default 0.1)')
    ap.add_argument('--out', default=None)
    a, extra = ap.parse_known_args()
    if a.seeds and '--seed' in extra: ap.error('give --seeds or --seed, not both')
    out = Path(a.out or tempfile.mkdtemp()); out.mkdir(parents=True, exist_ok=True)
    header(f'python bench/retrain.py --seed-steps {a.seed_steps} --epochs {a.epochs:g} '
           f'--max-minutes {a.max_minutes:g} --out {out}'
           + (f' --seed-model {a.seed_model}' if a.seed_model else '')
           + (f' --seeds {" ".join(map(str, a.seeds))}' if a.seeds else '')
           + f' --heldout-by {" ".join(a.heldout_by)} --heldout-share {a.heldout_share:g}'
           + ''.join(f' {x}' for x in extra))
    valid = shared('data', 'squad_v2', 'valid.json')
    t0 = time.time(); seed = Path(a.seed_model) if a.seed_model else seed_model(a.seed_steps, out)
    seed_secs = time.time() - t0
    pinned = len(a.heldout_by) > 1
    rules = {by: dict(rows=[], gains=[], best_gains=[]) for by in a.heldout_by}
    for n in (a.seeds or [None]):
        runs = {}
        for core, by in enumerate(a.heldout_by):
            d = out/f'{by}-seed-{n}' if a.seeds or pinned else out
            folder, what = split_train(d/'data', by, a.heldout_share, 42 if n is None else n)
            runs[by] = (d, what, *before(seed, folder, valid, core if pinned else None))
        started = {by: start_retrain(seed, runs[by][0]/'data', runs[by][0], a, extra, n, core if pinned else None)
                   for core, by in enumerate(a.heldout_by)}
        for core, by in enumerate(a.heldout_by):
            d, what, b, thr = runs[by]
            r = finish_retrain(started[by], d, valid, thr, f'retrained, seed {n}' if n is not None else 'retrained',
                               core if pinned else None)
            rules[by]['rows'] += [dict(b, heldout=what), dict(r, heldout=what)]
            rules[by]['gains'].append(round(r['f1_blind'] - b['f1_blind'], 2))
            rules[by]['best_gains'].append(round(r['best_f1'] - b['best_f1'], 2))
    for v in rules.values(): v.update(blind=summary(v['gains']), best=summary(v['best_gains']))
    res = dict(seed_steps=a.seed_steps, retrain_options=extra, seeds=a.seeds, seed_seconds=round(seed_secs),
               heldout_share=a.heldout_share, rules=rules)
    (out/'results.json').write_text(json.dumps(res, indent=1))
    print(f"\nvalid.json ({len(json.loads(valid.read_text())['data'])} articles); "
          "the epoch and the threshold chosen blind on a part of train.json")
    for by, v in rules.items():
        print(f"\nheld out by {by}:\n{'':38}{'F1 blind':>10}{'EM blind':>10}{'threshold':>11}{'best F1':>9}"
              f"{'forced HasAns F1':>18}{'AUC':>7}{'minutes':>9}")
        for r in v['rows']:
            print(f"{r['model']:38}{r['f1_blind']:>10.2f}{r['exact_blind']:>10.2f}{r['threshold']:>11.3f}"
                  f"{r['best_f1']:>9.2f}{r['HasAns_f1_forced']:>18.2f}{r['auc']:>7.3f}{r.get('minutes', ''):>9}")
        b, bb = v['blind'], v['best']
        print(f"gain at the blind threshold {', '.join(f'{g:+.2f}' for g in v['gains'])}: "
              f"mean {b['mean']:+.2f}, min {b['min']:+.2f}, sd {b['sd']:.2f}")
        print(f"gain in best F1 {', '.join(f'{g:+.2f}' for g in v['best_gains'])}: "
              f"mean {bb['mean']:+.2f}, min {bb['min']:+.2f}, sd {bb['sd']:.2f}")
    print(json.dumps(res))

if __name__ == '__main__': main()
