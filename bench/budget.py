"""Quality at equal budget: the starting notebook's recipe against squad_nb's, same data, same CPU, same wall clock.

    python bench/budget.py --recipe seed-notebook   --minutes 35 --out runs/budget-seed
    python bench/budget.py --recipe small-squad-cpu --minutes 35 --out runs/budget-ours

Model: all-MiniLM-L6-v2 (offline). Training data: ../shared/data/squad_v2/train.json; scored on valid.json by
`squad_nb.metric.squad_v2_score`.
- seed-notebook: the starting notebook as written (its prepare functions: windows padded to 384,
  `default_data_collator`, lr 2e-5, batch 64, weight decay 0.01, 3 epochs scheduled), stopped by the time budget,
  then its post-processing with no-answer probability 0.0 (threshold 0).
- small-squad-cpu: `squad_nb.train.train_qa(recipe='small-squad-cpu', max_minutes=...)`, on train.json loaded with its
  plausible answers (`load_squad(..., plausible=True)`, which the recipe learns from). Its epoch and no-answer
  threshold are chosen on paragraphs of train.json held out from training (`--select-on heldout`, default: a tenth of
  every article's paragraphs, `squad_nb.data.hold_out`; `--heldout-by article` holds out the last article instead, as
  before) so valid.json is scored blind, or on valid.json itself (`--select-on valid`, the usual SQuAD "best F1"
  reporting).
Settings on trial are given with --overrides (JSON of recipe settings). To compare settings at equal time while the
machine does other work, pin each run to one core and one thread, the same for every run:

    taskset -c 1 python bench/budget.py --recipe small-squad-cpu --minutes 35 --threads 1 \\
        --overrides '{"synthetic_neg": 0.25}'

Prints the metrics as JSON on the last line and writes them to <out>/metrics.json."""
import _common  # first: see its docstring
import argparse, copy, json, tempfile, time
import numpy as np
from pathlib import Path
from _common import *
from datasets import Dataset, DatasetDict
from squad_nb.data import load_squad
from squad_nb.metric import squad_v2_score

def seed_notebook(minutes, out):
    "The starting notebook's recipe for `minutes`, scored with its own post-processing at threshold 0."
    from transformers import Trainer, TrainingArguments, default_data_collator
    from squad_nb.model import load_qa_model
    from squad_nb.train import TimeBudget
    model, tok = load_qa_model('minilm-local')[:2]
    ptf, pvf, post = seed_module().make_seed_fns(tok)
    tr, va = load_squad(shared('data', 'squad_v2', 'train.json')), load_squad(shared('data', 'squad_v2', 'valid.json'))
    tw = tr.map(ptf, batched=True, remove_columns=tr.column_names)
    vw = va.map(pvf, batched=True, remove_columns=va.column_names)
    args = TrainingArguments(output_dir=str(out/'checkpoints'), eval_strategy='no', learning_rate=2e-5,
                             per_device_train_batch_size=64, per_device_eval_batch_size=64, num_train_epochs=3,
                             weight_decay=0.01, use_cpu=True, report_to='none', save_strategy='no', logging_steps=5,
                             seed=42)
    t = Trainer(model=model, args=args, train_dataset=tw, data_collator=default_data_collator, processing_class=tok,
                callbacks=[TimeBudget(minutes)])
    t0 = time.time(); t.train(); secs = time.time() - t0
    raw = t.predict(vw.remove_columns(['example_id', 'offset_mapping']))
    vw.set_format(type=vw.format['type'], columns=list(vw.features.keys()))
    preds = post(va, vw, raw.predictions)
    return squad_v2_score(dict(preds), va), dict(train_seconds=round(secs), steps=t.state.global_step,
                                                 windows=t.state.global_step * 64)

def diagnostics(res, va):
    "Where the F1 is lost: spans (HasAns F1 when forced to answer) or answerability (ROC AUC of the null odds)."
    forced = squad_v2_score(dict(zip(res.ids, res.text)), va)
    has = np.array([bool(a['text']) for a in va['answers']])
    # unanswerable questions should have the larger odds
    neg, pos = res.null_score_diff[~has], res.null_score_diff[has]
    auc = (neg[:, None] > pos[None]).mean() + 0.5 * (neg[:, None] == pos[None]).mean()
    return dict(forced_HasAns_f1=round(forced['HasAns_f1'], 2), null_odds_auc=round(float(auc), 3))

def small_squad_cpu(minutes, out, select_on, heldout_by='paragraph', **overrides):
    "squad_nb's small-squad-cpu recipe for `minutes`; valid.json scored at the threshold chosen on `select_on`."
    from squad_nb.train import train_qa
    from squad_nb.evaluate import evaluate_qa
    from squad_nb.recipe import recipe_settings
    tr, va = (load_squad(shared('data', 'squad_v2', 'train.json'), plausible=True),
              load_squad(shared('data', 'squad_v2', 'valid.json')))
    held = dict(heldout=0.1, heldout_by=heldout_by) if select_on == 'heldout' else {}  # a tenth of train.json, seed 42
    data = tr if held else DatasetDict(train=tr, validation=va)
    t0 = time.time()
    r = train_qa('minilm-local', data, out/'model', recipe=recipe_settings('small-squad-cpu', **held, **overrides),
                 max_minutes=minutes, overwrite=True, progress=False)
    secs = time.time() - t0
    ev = evaluate_qa(out/'model', va, out/'eval', progress=False)
    return ev.metrics, dict(train_seconds=round(secs), threshold=r.threshold, selected_on=select_on,
                            heldout_by=heldout_by, diagnostics=diagnostics(ev.result, va),
                            steps=r.log_history[-1].get('step'),
                            settings=json.loads((out/'model'/'squad_nb.json').read_text())['recipe_settings'])

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--recipe', choices=['seed-notebook', 'small-squad-cpu'], required=True)
    ap.add_argument('--minutes', type=float, default=35)
    ap.add_argument('--out', default=None)
    ap.add_argument('--select-on', choices=['heldout', 'valid'], default='heldout')
    ap.add_argument('--heldout-by', choices=['paragraph', 'article'], default='paragraph',
                    help="held out from train.json: a tenth of every article's paragraphs (default), "
                         "or its last article")
    ap.add_argument('--overrides', default='{}',
                    help='JSON of recipe settings, e.g. {"epochs": 6} or {"reinit_layers": 1}')
    ap.add_argument('--threads', type=int, default=None,
                    help='torch threads (default: torch\'s own choice); pin the process with taskset to match')
    a = ap.parse_args()
    out = Path(a.out or tempfile.mkdtemp()); out.mkdir(parents=True, exist_ok=True)
    if a.threads:
        import torch; torch.set_num_threads(a.threads)
    extra = ((f" --overrides '{a.overrides}'" if a.overrides != '{}' else '')
             + (f' --threads {a.threads}' if a.threads else ''))
    header(f'python bench/budget.py --recipe {a.recipe} --minutes {a.minutes:g} --out {out}'
           + (f' --select-on {a.select_on} --heldout-by {a.heldout_by}' if a.recipe != 'seed-notebook' else '')
           + extra)
    m, info = (seed_notebook(a.minutes, out) if a.recipe == 'seed-notebook'
               else small_squad_cpu(a.minutes, out, a.select_on, a.heldout_by, **json.loads(a.overrides)))
    res = dict(recipe=a.recipe, minutes=a.minutes, overrides=json.loads(a.overrides), threads=a.threads, **info,
               metrics={k: v for k, v in m.items() if not isinstance(v, dict)})
    (out/'metrics.json').write_text(json.dumps(res, indent=1))
    if 'diagnostics' in info:
        print(f"forced to answer: HasAns F1 {info['diagnostics']['forced_HasAns_f1']:.2f}; "
              f"null odds telling unanswerable from answerable: ROC AUC {info['diagnostics']['null_odds_auc']:.3f}")
    print(f"\n{a.recipe}: EM {m['exact']:.2f}  F1 {m['f1']:.2f}  HasAns F1 {m.get('HasAns_f1', float('nan')):.2f}  "
          f"NoAns F1 {m.get('NoAns_f1', float('nan')):.2f}  (best F1 {m.get('best_f1', float('nan')):.2f})")
    print(json.dumps(res))

if __name__ == '__main__': main()
