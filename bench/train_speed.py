"""Training and evaluation speed: the starting notebook's set-up against squad_nb's, same model, data and windows.

    python bench/train_speed.py [--windows 512]

Model: all-MiniLM-L6-v2 (offline). Data: the first `--windows` training windows of ../shared/data/squad_v2/train.json
(a fixed random draw) and as many validation windows of valid.json.
- starting notebook: windows padded to 384 (its prepare functions), `default_data_collator`, batch 64,
  evaluation with `Trainer.predict` (batch 64);
- squad_nb: unpadded windows, `DataCollatorWithPadding`, length-grouped batches of 32 (its small-squad-cpu recipe)
  run as forward passes of `device_batch()` windows (8 on a CPU) with gradients accumulated, first in float32, then as
  the small-squad-cpu recipe trains: bfloat16 where the hardware has it (`bf16='auto'`) and no attention dropout
  (`attn_dropout=0.0`, so that CPU attention runs its fused kernel); evaluation with `infer_windows` in float32
  (length-sorted passes of `device_batch()`, inference mode, candidates kept per batch), as `evaluate_qa` runs it.
Each set-up trains the same number of windows once after one warm-up step; windows/s counts windows seen."""
import _common  # first: see its docstring
import argparse, copy, tempfile, time
import numpy as np, torch
from _common import *
from datasets import Dataset
from transformers import Trainer, TrainerCallback, TrainingArguments, default_data_collator, DataCollatorWithPadding
from squad_nb.data import load_squad
from squad_nb.features import prepare_train_features, prepare_validation_features
from squad_nb.model import load_qa_model, device_batch, resolve_bf16, set_attention_dropout
from squad_nb.inference import infer_windows
from squad_nb.train import QATrainer
from squad_nb.recipe import RECIPES

def train_rate(model, tok, feats, bs, collator, ours, bf16=False):
    "Windows/s of one pass over `feats` (after a warm-up step) in batches of `bs`."
    dbs = device_batch(None, bs) if ours else bs
    args = TrainingArguments(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=dbs,
                             gradient_accumulation_steps=bs // dbs, bf16=bf16, learning_rate=2e-5,
                             max_steps=1 + len(feats)//bs, use_cpu=True, report_to='none', save_strategy='no',
                             logging_strategy='no', disable_tqdm=True, seed=0,
                             train_sampling_strategy='group_by_length' if ours else 'random')
    times = []
    cb = type('Clock', (TrainerCallback,), {'on_step_end': lambda self, *a, **k: times.append(time.perf_counter())})()
    T = QATrainer if ours else Trainer
    T(model=model, args=args, train_dataset=feats, data_collator=collator, processing_class=tok,
      callbacks=[cb]).train()
    return (len(times) - 1) * bs / (times[-1] - times[0])

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--windows', type=int, default=512)
    a = ap.parse_args()
    header(f'python bench/train_speed.py --windows {a.windows}')
    torch.manual_seed(0)
    model, tok = load_qa_model('minilm-local')[:2]
    seed_train, seed_valid, _ = seed_module().make_seed_fns(tok)
    tr = load_squad(shared('data', 'squad_v2', 'train.json')).shuffle(seed=0)[:a.windows]
    va = load_squad(shared('data', 'squad_v2', 'valid.json'))[:a.windows]
    theirs_t = Dataset.from_dict(seed_train(copy.deepcopy(tr))).select(range(a.windows))
    ours_t = Dataset.from_dict(prepare_train_features(tr, tok)).select(range(a.windows))
    theirs_v = Dataset.from_dict(seed_valid(copy.deepcopy(va))).select(range(a.windows))
    ours_v = Dataset.from_dict(prepare_validation_features(va, tok)).select(range(a.windows))
    state = copy.deepcopy(model.state_dict())
    r_seed = train_rate(model, tok, theirs_t, 64, default_data_collator, False); model.load_state_dict(state)
    col = DataCollatorWithPadding(tok, pad_to_multiple_of=8)
    r_fp32 = train_rate(model, tok, ours_t, 32, col, True); model.load_state_dict(state)
    rec = RECIPES['small-squad-cpu']; bf = resolve_bf16(rec.bf16)
    drop = model.config.attention_probs_dropout_prob; set_attention_dropout(model, rec.attn_dropout)
    r_ours = train_rate(model, tok, ours_t, 32, col, True, bf16=bf)
    model.load_state_dict(state); set_attention_dropout(model, drop)
    args = TrainingArguments(output_dir=tempfile.mkdtemp(), per_device_eval_batch_size=64, use_cpu=True,
                             report_to='none', disable_tqdm=True)
    pred = Trainer(model=model, args=args, data_collator=default_data_collator)
    cols = ['input_ids', 'attention_mask', 'token_type_ids']
    t = time.perf_counter(); pred.predict(theirs_v.select_columns([c for c in cols if c in theirs_v.column_names]))
    e_seed = len(theirs_v)/(time.perf_counter()-t)
    t = time.perf_counter(); infer_windows(model, ours_v, col, device_batch(), progress=False)
    e_ours = len(ours_v)/(time.perf_counter()-t)
    mean_len = np.mean([len(x) for x in ours_t['input_ids']])
    print(f"\n{a.windows} training windows (mean {mean_len:.0f} tokens unpadded), {a.windows} validation windows")
    print(f"{'':28}{'train windows/s':>16}{'eval windows/s':>16}")
    print(f"{'starting notebook':28}{r_seed:16.2f}{e_seed:16.2f}")
    print(f"{'squad_nb, float32':28}{r_fp32:16.2f}{e_ours:16.2f}")
    print(f"{'squad_nb, small-squad-cpu':28}{r_ours:16.2f}{e_ours:16.2f}   "
          f"(bfloat16: {'yes' if bf else 'no, not native here'}; attention dropout {rec.attn_dropout})")
    print(f"{'speed-up, float32':28}{r_fp32/r_seed:15.2f}x{e_ours/e_seed:15.2f}x")
    print(f"{'speed-up, small-squad-cpu':28}{r_ours/r_seed:15.2f}x{e_ours/e_seed:15.2f}x   "
          "goals: >= 3x training, >= 2x evaluation")

if __name__ == '__main__': main()
