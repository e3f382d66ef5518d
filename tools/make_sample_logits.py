"""Save the logits a trained model gives on the bundled sample's validation windows, for the course notebooks.

    python tools/make_sample_logits.py [MODEL] [--out squad_nb/sample/logits.npz] [--train-ids ID ...]

The post-processing and widget notebooks teach decoding and errors on these logits: those of a real fine-tuned model,
without training one in the notebook. For each split, the windows are
`tokenize_dataset(rows, load_tokenizer('minilm-local'), train=False)` in their order, where rows are the whole
validation split, and the training questions named by `--train-ids` (in that order); each window's start and end
logits are stored unpadded (float16, concatenated, with `lengths`), with the ids, the model's description and its
saved threshold. `squad_nb.postprocess.sample_logits` reads the file.
The file shipped is the starter model's (`minilm-squad`, the default MODEL), so that the logits the course decodes
and the model a learner loads agree: all-MiniLM-L6-v2 fine-tuned on the 3,720 questions of the shared train.json (the
sample's validation questions come from the development set, which it never saw)."""
import argparse, json
from pathlib import Path
import numpy as np, torch
from transformers import DataCollatorWithPadding
from squad_nb.data import load_squad
from squad_nb.features import load_tokenizer, tokenize_dataset
from squad_nb.inference import batch_logits
from squad_nb.model import load_qa_model

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model', nargs='?', default='minilm-squad', help='a model folder or name (default: minilm-squad)')
    ap.add_argument('--out', default='squad_nb/sample/logits.npz')
    ap.add_argument('--train-ids', nargs='*', default=['d7d57fe85aa695d52dd3edfbe', '471744f6ffe5beccf5c442faa'],
                    help="training questions to include (default: the two the post-processing notebook follows)")
    ap.add_argument('--about', default=None, help="the model's description (default: the one saved with it)")
    a = ap.parse_args()
    model, tok, cfg = load_qa_model(a.model)[:3]
    assert tok.vocab == load_tokenizer('minilm-local').vocab, 'the windows are made with the minilm-local tokenizer'
    sample, arrays = load_squad('sample'), {}
    row = {k: i for i, k in enumerate(sample['train']['id'])}
    for split, rows in (('validation', sample['validation']),
                        ('train', sample['train'].select([row[i] for i in a.train_ids]))):
        w = tokenize_dataset(rows, tok, train=False, progress=False)
        starts, ends = [None] * len(w), [None] * len(w)
        for idx, out in batch_logits(model, w, DataCollatorWithPadding(tok), 32, progress=False):
            n = [len(w[int(i)]['input_ids']) for i in idx]
            for i, k, s, e in zip(idx, n, out.start_logits, out.end_logits):
                starts[i], ends[i] = s[:k].numpy(), e[:k].numpy()
        arrays.update({f'{split}_start': np.concatenate(starts).astype(np.float16),
                       f'{split}_end': np.concatenate(ends).astype(np.float16),
                       f'{split}_lengths': np.array([len(s) for s in starts]), f'{split}_ids': np.array(rows['id'])})
    about = a.about or cfg.get('about', str(a.model))
    np.savez_compressed(a.out, **arrays, about=np.array(about),
                        null_threshold=np.array(cfg.get('null_threshold', 0.0)))
    print(f"{a.out}: {Path(a.out).stat().st_size} bytes")

if __name__ == '__main__': main()
