"Training: a run killed with SIGKILL resumes to the same metrics; checkpoints are never half-written; one-sided subsets; checkpoint folders."
import json, os, signal, subprocess, sys, time, textwrap
from pathlib import Path
import logging
import pytest, torch
from transformers import Trainer, TrainerCallback
from squad_nb.data import load_squad
from squad_nb.model import load_qa_config
from squad_nb.train import train_qa, retrain, complete_checkpoints
from squad_nb.evaluate import evaluate_qa
from conftest import ROOT

KW = dict(epochs=2, batch_size=8, learning_rate=1e-3, max_train=64, max_eval=24, eval_steps=4, progress=False)

SCRIPT = textwrap.dedent('''
    import sys, time, json
    from transformers import TrainerCallback
    from squad_nb.train import train_qa
    class Slow(TrainerCallback):
        def on_step_end(self, *a, **k): time.sleep(0.4)
    kw = json.loads(sys.argv[3])
    train_qa(sys.argv[1], 'sample', sys.argv[2], callbacks=[Slow()], **kw)
''')

def test_sigkill_mid_epoch_then_resume_gives_same_metrics(tiny, tmp_path):
    full = train_qa(str(tiny), 'sample', tmp_path/'full', **KW)
    out = tmp_path/'killed'
    p = subprocess.Popen([sys.executable, '-c', SCRIPT, str(tiny), str(out), json.dumps(KW)], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not (out/'checkpoints'/'checkpoint-4').exists():
            assert p.poll() is None and time.time() < deadline, 'the run ended before its first checkpoint'
            time.sleep(0.05)
        time.sleep(0.5)  # into step 5 or 6: mid-epoch (8 steps per epoch)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    finally:
        if p.poll() is None: p.kill()
    assert p.returncode == -signal.SIGKILL
    assert [c.name for c in complete_checkpoints(out/'checkpoints')][-1] == 'checkpoint-4'
    assert not (out/'config.json').exists(), 'the killed run must not have saved a final model'
    resumed = train_qa(str(tiny), 'sample', out, resume=True, **KW)
    assert resumed.metrics == full.metrics

def test_checkpoint_interrupted_while_saving_is_never_complete(tiny, tmp_path, monkeypatch):
    "A crash in the middle of writing a checkpoint leaves a folder without trainer_state.json; resume uses the previous complete one."
    orig = Trainer._save_optimizer_and_scheduler
    def crash(self, output_dir):
        if self.state.global_step == 8: raise RuntimeError('disk full')
        return orig(self, output_dir)
    monkeypatch.setattr(Trainer, '_save_optimizer_and_scheduler', crash)
    with pytest.raises(RuntimeError, match='disk full'): train_qa(str(tiny), 'sample', tmp_path/'run', **KW)
    ck = tmp_path/'run'/'checkpoints'
    assert (ck/'checkpoint-8'/'model.safetensors').exists() and not (ck/'checkpoint-8'/'trainer_state.json').exists()
    assert [c.name for c in complete_checkpoints(ck)] == ['checkpoint-4']
    monkeypatch.setattr(Trainer, '_save_optimizer_and_scheduler', orig)
    full = train_qa(str(tiny), 'sample', tmp_path/'full', **KW)
    assert train_qa(str(tiny), 'sample', tmp_path/'run', resume=True, **KW).metrics == full.metrics

def test_resume_from_checkpoint_folder_says_step(tiny, tmp_path, caplog):
    with pytest.raises(RuntimeError):
        from transformers import TrainerCallback
        class Stop(TrainerCallback):
            def on_step_end(self, args, state, control, **k):
                if state.global_step == 6: raise RuntimeError('stop')
        train_qa(str(tiny), 'sample', tmp_path/'run', callbacks=[Stop()], **KW)
    ck = tmp_path/'run'/'checkpoints'/'checkpoint-4'
    with caplog.at_level(logging.INFO, logger='squad_nb'): train_qa(str(tiny), 'sample', tmp_path/'run', resume=str(ck), **KW)
    assert f'resuming from {ck} (step 4)' in caplog.text

def test_retrain_from_a_checkpoint_folder(tiny, tmp_path, caplog):
    train_qa(str(tiny), 'sample', tmp_path/'run', keep_checkpoints=True, **KW)
    ck = complete_checkpoints(tmp_path/'run'/'checkpoints')[0]
    with caplog.at_level(logging.INFO, logger='squad_nb'):
        r = retrain(ck, 'sample', tmp_path/'from-ckpt', epochs=1, max_train=32, max_eval=24, progress=False)
    assert f'continuing from checkpoint {ck.name} (step {ck.name.split("-")[1]})' in caplog.text
    assert (tmp_path/'from-ckpt'/'config.json').exists() and r.kept == ('retrained' if r.after['best_f1'] > r.before['best_f1'] else 'original')

@pytest.mark.parametrize('answerable', [True, False])
def test_one_sided_validation_set_trains_and_selects(tiny, tmp_path, answerable):
    "Validation with only answerable (or only unanswerable) questions: no missing-key crash, a best model is still chosen."
    dd = load_squad('sample')
    va = dd['validation'].filter(lambda r: bool(r['answers']['text']) == answerable).select(range(16))
    r = train_qa(str(tiny), {'train': dd['train'], 'validation': va}, tmp_path/'m', **{**KW, 'max_eval': None})
    assert ('NoAns_total' in r.metrics) != answerable and ('HasAns_total' in r.metrics) == answerable
    assert 'best_f1' in r.metrics and load_qa_config(tmp_path/'m')['best_checkpoint']

def test_mixed_precision_run_records_the_numbers_the_saved_model_gives(tiny, tmp_path):
    "bf16 autocast during training; the recorded metrics are those of the saved float32 model, reloaded."
    r = train_qa(str(tiny), 'sample', tmp_path/'bf16', bf16=True, **KW)
    ev = evaluate_qa(tmp_path/'bf16', 'sample', max_rows=KW['max_eval'], progress=False).metrics
    assert {k: ev[k] for k in r.metrics if k != 'loss'} == {k: v for k, v in r.metrics.items() if k != 'loss'}

class LastLR(TrainerCallback):
    "Records the learning rate after every step, taking 0.2 s more per step."
    def __init__(self): self.lrs = []
    def on_step_end(self, args, state, control, lr_scheduler=None, **kwargs): time.sleep(0.2); self.lrs.append(lr_scheduler.get_last_lr()[0])

@pytest.mark.parametrize('fit', [True, False])
def test_time_budget_ends_the_schedule_when_the_time_runs_out(tiny, tmp_path, fit):
    cb = LastLR()  # 0.2 s a step, and evaluations: fewer than 60 of the 160 planned steps fit in 6 seconds
    train_qa(str(tiny), 'sample', tmp_path/'m', **dict(KW, epochs=20, eval_steps=8), max_minutes=0.1, fit_schedule=fit, callbacks=[cb])
    assert 10 < len(cb.lrs) < 60, len(cb.lrs)
    assert (cb.lrs[-1] < 0.15 * max(cb.lrs)) if fit else (cb.lrs[-1] > 0.5 * max(cb.lrs)), cb.lrs
