"""Training on a CPU: PyTorch's fused attention kernel ("sdpa", what squad_nb uses) against plain matrix products
("eager").

    python bench/attention.py [--repeats 2]

Profiled in a training step on a CPU, the fused kernel's backward pass is the largest single cost, so eager attention
looks like a cheap speed-up. This measures it where it matters, per length of window: one forward and backward pass of
8 windows (a CPU forward pass of `device_batch()`; 4 of them end in 16 padding tokens), all-MiniLM-L6-v2 as the
small-squad-cpu recipe trains it (bfloat16 where the hardware has it, attention dropout 0). Each time is the best of 4
passes after a warm-up one, the two kernels taking turns `--repeats` times. The last column is the share of
train.json's windows longer than the row above's length and at most the row's, to weigh the rows."""
import _common  # first: see its docstring
import argparse
import numpy as np, torch
from _common import *
import transformers
from transformers import AutoModelForQuestionAnswering
from squad_nb.data import load_squad
from squad_nb.features import load_tokenizer, tokenize_dataset
from squad_nb.features import model_path
from squad_nb.model import resolve_bf16, set_attention_dropout
from squad_nb.recipe import RECIPES

LENGTHS = (128, 192, 256, 384)

def pass_seconds(model, batch, bf16) -> float:
    "Best seconds of one forward and backward pass, over 4 after a warm-up."
    def step():
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16): loss = model(**batch).loss
        loss.backward(); model.zero_grad()
    step()
    return best_time(step, repeats=4)[0]

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--repeats', type=int, default=2)
    a = ap.parse_args()
    header(f'python bench/attention.py --repeats {a.repeats}')
    transformers.logging.set_verbosity_error()  # no load report for the new QA heads
    rec = RECIPES['small-squad-cpu']; bf16 = resolve_bf16(rec.bf16)
    models = {}
    for impl in ('sdpa', 'eager'):
        m = AutoModelForQuestionAnswering.from_pretrained(model_path('minilm-local'), attn_implementation=impl)
        set_attention_dropout(m, rec.attn_dropout); models[impl] = m.train()
    tok = load_tokenizer('minilm-local')
    train = load_squad(shared('data', 'squad_v2', 'train.json'))
    lens = np.array([len(x) for x in tokenize_dataset(train, tok, progress=False)['input_ids']])
    edges = (0,) + LENGTHS
    torch.manual_seed(0)
    print(f"\nms per forward and backward pass of 8 windows (bfloat16: {'yes' if bf16 else 'no'}; "
          f"attention dropout {rec.attn_dropout})")
    print(f"{'tokens':>8}{'fused (sdpa)':>14}{'eager':>9}{'eager/fused':>13}{'share of windows':>18}")
    for i, n in enumerate(LENGTHS):
        batch = dict(input_ids=torch.randint(1000, 2000, (8, n)), attention_mask=torch.ones(8, n, dtype=torch.long),
                     start_positions=torch.zeros(8, dtype=torch.long), end_positions=torch.zeros(8, dtype=torch.long))
        batch['attention_mask'][:4, n - 16:] = 0
        best = {k: float('inf') for k in models}
        for _ in range(a.repeats):  # the two kernels take turns
            for k, m in models.items(): best[k] = min(best[k], pass_seconds(m, batch, bf16))
        share = np.mean((lens > edges[i]) & (lens <= edges[i + 1]))
        print(f"{n:>8}{best['sdpa'] * 1000:>14.0f}{best['eager'] * 1000:>9.0f}{best['eager'] / best['sdpa']:>13.2f}"
              f"{share:>17.0%}")

if __name__ == '__main__': main()
