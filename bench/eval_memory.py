"""Evaluation memory: streamed evaluation (`squad_nb.inference.score_windows`) keeps per-window top-k state, not
logits.

    python bench/eval_memory.py [--model tiny|minilm-local|FOLDER] [--scale 1 4 16] [--batch-size 64] [--threads 1]
                                [--glibc-default]

Data: ../shared/data/squad_v2/valid.json (653 questions) repeated 1x, 4x, 16x with new ids. Each size runs in a fresh
process: load the model, build the data, tokenize the validation windows, then score them, while a thread samples the
process's resident memory (RSS) every 5 ms; `ru_maxrss` gives the whole process's peak. Two ways of scoring:
- streamed: `score_windows` (length-sorted batches in inference mode, each batch reduced at once to top-k starts/ends);
- all logits: the same forward passes, but every window's start/end logits kept in one [windows, 384] float32 array
  (what `Trainer.predict` returns, padded to 384), then `postprocess_qa_predictions` and `squad_v2_score`. This is a
  lower bound for the Trainer: it preallocates the array instead of concatenating batches.
Both use the same batches, so their logits are the same floats: predictions and null odds must be equal exactly.
Model: by default a tiny random BERT (MiniLM vocabulary, hidden 32, 2 layers) saved to a temporary folder, so that the
bench runs in minutes; `--model minilm-local` for the real one (about 20x slower).
Allocator: glibc keeps freed blocks of the forward pass (tensors of a different shape in every length-sorted batch) and
its RSS high-water mark then wanders by tens of MB from run to run whatever the data size. The runs therefore set
MALLOC_MMAP_THRESHOLD_=131072 (large blocks go straight back to the system), so that RSS measures what is live;
`--glibc-default` runs without it. The setting is for measuring, not a recommendation: fresh pages for every batch
cost time, so scoring times are best read from a `--glibc-default` run."""
import _common  # first: moves this folder to the end of sys.path (bench/tokenize.py shadows the stdlib's tokenize)
import argparse, json, os, shutil, subprocess, sys, tempfile, threading, time
from _common import *

def tiny_model(folder):
    "Save a tiny random BERT QA model with the MiniLM tokenizer in `folder`."
    from squad_nb.features import load_tokenizer
    from squad_nb.model import save_qa_model, tiny_qa_model
    tok = load_tokenizer('minilm-local')
    m = tiny_qa_model(tok.vocab_size, seed=0)
    return save_qa_model(m, tok, folder, dict(null_threshold=0.0, max_length=384, doc_stride=128))

class PeakRSS:
    "Highest resident memory of this process while inside the `with` block, sampled every `every` seconds."
    def __init__(self, every=0.005): self.every = every
    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._p.memory_info().rss); time.sleep(self.every)
    def __enter__(self):
        import psutil
        self._p, self._stop = psutil.Process(), threading.Event()
        self.start = self.peak = self._p.memory_info().rss
        self._t = threading.Thread(target=self._run, daemon=True); self._t.start()
        return self
    def __exit__(self, *exc):
        self._stop.set(); self._t.join(); self.peak = max(self.peak, self._p.memory_info().rss)

def all_logits(model, feats, collator, batch_size, width=384):
    "Every window's logits in one [windows, 384] float32 array (padded with -100), batched as `infer_windows` does."
    import numpy as np
    from squad_nb.inference import batch_logits   # as `infer_windows` batches: each float equals the streamed run's
    s, e = np.full((2, len(feats), width), -100, np.float32)
    for idx, out in batch_logits(model, feats, collator, batch_size, progress=False):
        w = out.start_logits.shape[1]
        s[idx, :w], e[idx, :w] = out.start_logits.numpy(), out.end_logits.numpy()
    return s, e

def child(a):
    "One size, one way of scoring, in this fresh process: print a JSON line of times and memory."
    import resource, numpy as np, torch, datasets
    from datasets import Dataset
    from transformers import DataCollatorWithPadding
    from squad_nb.data import load_squad, SQUAD_FEATURES
    from squad_nb.features import tokenize_dataset
    from squad_nb.postprocess import postprocess_qa_predictions, get_predictions, get_null_score_diffs
    from squad_nb.metric import squad_v2_score
    from squad_nb.model import load_qa_model
    from squad_nb.inference import score_windows, infer_windows
    torch.set_num_threads(a.threads); datasets.disable_progress_bars()
    torch.manual_seed(0)   # the same QA head in every run when the model has none yet (minilm-local is an encoder)
    model, tok = load_qa_model(a.model_dir)[:2]
    rows = load_squad(shared('data', 'squad_v2', 'valid.json'))[:]
    ds = Dataset.from_dict(repeat_rows(rows, a.child), features=SQUAD_FEATURES)
    t = time.perf_counter(); feats = tokenize_dataset(ds, tok, train=False); t_tok = time.perf_counter() - t
    collator = DataCollatorWithPadding(tok, pad_to_multiple_of=8)
    # warm-up, untimed
    infer_windows(model, feats.select(range(min(a.batch_size, len(feats)))), collator, a.batch_size, progress=False)
    with PeakRSS() as mem:
        t = time.perf_counter()
        if a.mode == 'streamed':
            sc = score_windows(model, ds, feats, collator, a.batch_size, progress=False)
            res, metrics = sc.result, sc.metrics
        else:
            s, e = all_logits(model, feats, collator, a.batch_size)
            res = postprocess_qa_predictions(ds, feats, s, e)
            metrics = squad_v2_score(get_predictions(res), ds, null_score_diff=get_null_score_diffs(res),
                                     no_answer_threshold=0.0)
        t_score = time.perf_counter() - t
    offsets = feats.data.column('offset_mapping')
    out = dict(scale=a.child, mode=a.mode, questions=len(ds), windows=len(feats),
               tokens=int(sum(map(len, feats['input_ids']))), offsets=offsets.nbytes, chunks=offsets.num_chunks,
               t_tok=t_tok, t_score=t_score, rss_before=mem.start, rss_peak=mem.peak,
               maxrss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, f1=metrics['f1'])
    if a.dump: Path(a.dump).write_text(json.dumps(dict(pred=get_predictions(res), odds=get_null_score_diffs(res))))
    print(json.dumps(out))

def run_child(a, k, mode, dump):
    cmd = [sys.executable, __file__, '--child', str(k), '--mode', mode, '--model-dir', str(a.model_dir),
           '--batch-size', str(a.batch_size), '--threads', str(a.threads), '--dump', str(dump)]
    env = dict(os.environ, TOKENIZERS_PARALLELISM='false', OMP_NUM_THREADS=str(a.threads))
    if not a.glibc_default: env['MALLOC_MMAP_THRESHOLD_'] = '131072'
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode: sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])

MB = 2**20

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default='tiny',
                    help="'tiny' (random, saved to a temporary folder), 'minilm-local', or a saved model folder")
    ap.add_argument('--scale', type=int, nargs='*', default=[1, 4, 16])
    ap.add_argument('--batch-size', type=int, default=64)
    ap.add_argument('--threads', type=int, default=1, help='torch threads in each run (default 1)')
    ap.add_argument('--glibc-default', action='store_true',
                    help='leave the allocator as it is (RSS then includes freed blocks glibc keeps)')
    ap.add_argument('--child', type=int, help=argparse.SUPPRESS); ap.add_argument('--mode', help=argparse.SUPPRESS)
    ap.add_argument('--model-dir', help=argparse.SUPPRESS); ap.add_argument('--dump', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child: return child(a)
    header(f"python bench/eval_memory.py --model {a.model} --scale {' '.join(map(str, a.scale))} "
           f"--batch-size {a.batch_size} --threads {a.threads}" + (' --glibc-default' if a.glibc_default else ''))
    tmp = Path(tempfile.mkdtemp(prefix='eval_memory-'))
    try: report(a, tmp)
    finally: shutil.rmtree(tmp, ignore_errors=True)

def report(a, tmp):
    "Run every size both ways in fresh processes and print the table."
    if a.model == 'tiny': a.model_dir = tiny_model(tmp/'tiny')
    else:
        from squad_nb.features import model_path
        a.model_dir = model_path(a.model)
        if not Path(a.model_dir).is_dir(): sys.exit(f"{a.model}: not a local model folder")
    print(f"# model: {a.model} ({a.model_dir}); data: valid.json repeated; batches of {a.batch_size} windows; "
          f"{a.threads} torch thread(s) per run; each row is a fresh process; "
          f"{'glibc malloc defaults' if a.glibc_default else 'MALLOC_MMAP_THRESHOLD_=131072'}\n")
    runs = []
    for k in a.scale:
        for mode in ('streamed', 'all-logits'):
            r = run_child(a, k, mode, tmp/f'{mode}-{k}.json'); runs.append(r)
            same = None
            if mode == 'all-logits':
                x, y = (json.loads((tmp/f'{m}-{k}.json').read_text()) for m in ('streamed', 'all-logits'))
                same = x == y
                assert same, f"scale {k}: streamed predictions/null odds differ from the all-logits path"
            r['same'] = same
            print(f"  done: {k}x {mode} ({r['t_tok'] + r['t_score']:.1f} s)", file=sys.stderr)
    base = {m: next(r for r in runs if r['mode'] == m) for m in ('streamed', 'all-logits')}
    print(f"{'scale':>5} {'questions':>9} {'windows':>7} {'scoring':>10} {'tokenize s':>10} {'score s':>8} "
          f"{'ms/question':>11} {'RSS before':>10} {'peak RSS':>9} {'scoring +MB':>11} {'max RSS MB':>10} "
          f"{'vs 1x':>6} {'logits MB':>9} {'offsets MB':>10} {'same answers':>12}")
    for r in runs:
        b = base[r['mode']]
        logits = 2 * r['windows'] * 384 * 4 / MB
        same = '' if r['same'] is None else 'yes' if r['same'] else 'NO'
        print(f"{r['scale']:>4}x {r['questions']:>9} {r['windows']:>7} {r['mode']:>10} {r['t_tok']:>10.2f} "
              f"{r['t_score']:>8.2f} {1e3*r['t_score']/r['questions']:>11.2f} {r['rss_before']/MB:>10.0f} "
              f"{r['rss_peak']/MB:>9.0f} {(r['rss_peak']-r['rss_before'])/MB:>11.1f} {r['maxrss']/MB:>10.0f} "
              f"{r['maxrss']/b['maxrss']-1:>+6.0%} "
              f"{logits if r['mode'] == 'all-logits' else 0:>9.1f} {r['offsets']/MB:>10.1f} {same:>12}")
    print("\nscoring +MB: peak RSS while scoring minus RSS just before (model, data and windows already in memory);"
          "\nmax RSS: the process's peak (ru_maxrss), which includes tokenizing the data; "
          "vs 1x: against the same way's 1x run;"
          "\nlogits MB: what keeping every window's start and end logits (float32, padded to 384) takes by itself"
          f" ({2*384*4} bytes a window; the streamed state keeps {20*(2+8+2+8)+8} bytes a window: "
          "20 starts and ends, their logits, the CLS score);"
          "\noffsets MB: the windows' offset_mapping column (Arrow), which post-processing reads into flat arrays "
          "(a copy when the"
          "\n  column has several chunks, as after Dataset.map), whichever way the logits are handled;"
          "\nsame answers: the all-logits path's predictions and null odds equal the streamed ones exactly.")
    s = [r for r in runs if r['mode'] == 'streamed']
    if len(s) > 1:
        lo, hi = s[0], s[-1]
        print(f"\nstreamed, {lo['scale']}x -> {hi['scale']}x: questions x{hi['questions']/lo['questions']:.0f}, "
              f"scoring time x{hi['t_score']/lo['t_score']:.1f}, "
              f"ms/question {1e3*lo['t_score']/lo['questions']:.2f} -> "
              f"{1e3*hi['t_score']/hi['questions']:.2f}, "
              f"scoring memory +{(lo['rss_peak']-lo['rss_before'])/MB:.1f} MB -> "
              f"+{(hi['rss_peak']-hi['rss_before'])/MB:.1f} MB, process peak {lo['maxrss']/MB:.0f} MB -> "
              f"{hi['maxrss']/MB:.0f} MB "
              f"({hi['maxrss']/lo['maxrss']-1:+.0%}; goal: within +-20%)")

if __name__ == '__main__': main()
