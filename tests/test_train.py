"""Training: a run killed with SIGKILL resumes to the same metrics; checkpoints are never half-written; one-sided subsets;
checkpoint folders; a time budget on a clock that moves by the step; retraining keeps the better of two known models."""
import itertools, json, os, shutil, signal, subprocess, sys, time, textwrap
from pathlib import Path
from types import SimpleNamespace
import logging
import pytest, torch
from transformers import Trainer, TrainerCallback
from squad_nb.data import load_squad
from squad_nb.model import load_qa_config, load_qa_model, save_qa_model
from squad_nb.train import TimeBudget, train_qa, complete_checkpoints
from squad_nb.retrain import retrain
import squad_nb.retrain as retrain_module
from squad_nb.evaluate import evaluate_qa
from conftest import ROOT

KW = dict(epochs=2, batch_size=8, learning_rate=1e-3, max_train=64, max_eval=24, eval_steps=4, progress=False)

SCRIPT = textwrap.dedent('''
    import sys, time, json
    from pathlib import Path
    from transformers import TrainerCallback
    from squad_nb.train import train_qa
    class Hold(TrainerCallback):
        "At step 6, mid-epoch and after the checkpoint of step 4, say so and wait to be killed."
        def on_step_end(self, args, state, control, **k):
            if state.global_step == 6: Path(sys.argv[4]).touch(); time.sleep(600)
    kw = json.loads(sys.argv[3])
    train_qa(sys.argv[1], 'sample', sys.argv[2], callbacks=[Hold()], **kw)
''')

def test_sigkill_mid_epoch_then_resume_gives_same_metrics(tiny, tmp_path):
    full = train_qa(str(tiny), 'sample', tmp_path/'full', **KW)
    out, at_step_6 = tmp_path/'killed', tmp_path/'at-step-6'
    p = subprocess.Popen([sys.executable, '-c', SCRIPT, str(tiny), str(out), json.dumps(KW), str(at_step_6)], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:  # the run itself says when it is at step 6: no guess at how fast this machine is
        deadline = time.time() + 600
        while not at_step_6.exists():
            assert p.poll() is None and time.time() < deadline, 'the run ended (or hung) before step 6'
            time.sleep(0.05)
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
        r = retrain(ck, 'sample', tmp_path/'from-ckpt', epochs=1, learning_rate=1e-12, max_train=32, max_eval=24, progress=False)
    assert f'continuing from checkpoint {ck.name} (step {ck.name.split("-")[1]})' in caplog.text
    assert r.after['best_f1'] == r.before['best_f1'] and r.kept == 'original'   # a learning rate of ~0 cannot win: a tie
    assert (tmp_path/'from-ckpt'/'model.safetensors').read_bytes() == (ck/'model.safetensors').read_bytes()

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
    "Records the learning rate after every step."
    def __init__(self): self.lrs = []
    def on_step_end(self, args, state, control, lr_scheduler=None, **kwargs): self.lrs.append(lr_scheduler.get_last_lr()[0])

@pytest.mark.parametrize('fit', [True, False])
def test_time_budget_ends_the_schedule_when_the_time_runs_out(tiny, tmp_path, fit):
    "On a clock that moves 0.2 s at each reading (once a step), 6 seconds hold 30 of the 160 planned steps, whatever the machine."
    clock = map(lambda i: 0.2 * i, itertools.count()).__next__
    cb = LastLR()
    train_qa(str(tiny), 'sample', tmp_path/'m', **dict(KW, epochs=20, eval_steps=8), fit_schedule=fit,
             callbacks=[TimeBudget(0.1, fit, clock=clock), cb])
    assert len(cb.lrs) == 30, len(cb.lrs)
    assert (cb.lrs[-1] == 0.0) if fit else (cb.lrs[-1] > 0.5 * max(cb.lrs)), cb.lrs

def test_recipe_and_its_overrides_are_saved(tiny, tmp_path):
    "A run with a named recipe and one setting changed records the recipe's name and the setting as used."
    train_qa(str(tiny), 'sample', tmp_path/'m', **dict(KW, epochs=1), recipe='full-squad-gpu')
    s = load_qa_config(tmp_path/'m')
    assert s['recipe'] == 'full-squad-gpu' and (s['recipe_settings']['learning_rate'], s['recipe_settings']['epochs']) == (1e-3, 1)


def _known(tmp_path, name, model_name):
    "A folder holding `model_name` (a tiny random model, or the starter model), saved as train_qa saves."
    qa = load_qa_model(model_name)
    return save_qa_model(qa.model, qa.tokenizer, tmp_path/name, qa.config)

def _trains_into(folder):
    "A stand-in for train_qa that 'trains' by copying a known model into the output folder, scored as train_qa scores."
    def fake(model, data, out, max_eval=None, **kw):
        shutil.copytree(folder, out, dirs_exist_ok=True)
        return SimpleNamespace(metrics=evaluate_qa(out, data, max_rows=max_eval, progress=False).metrics)
    return fake

def _files(folder): return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}

def test_retrain_keeps_the_better_of_two_known_models(tiny, tmp_path, monkeypatch):
    "Crafted outcomes: the starter model beats a random tiny model; a better one is kept, a worse or equal one refused."
    starter, weak = _known(tmp_path, 'starter', 'minilm-squad'), tmp_path/'weak'
    shutil.copytree(tiny, weak)
    kw = dict(max_eval=24, progress=False)
    monkeypatch.setattr(retrain_module, 'train_qa', _trains_into(starter))
    r = retrain(weak, 'sample', **kw)
    assert r.after['best_f1'] > r.before['best_f1'] and r.kept == 'retrained'   # the case is as crafted, and the better one won
    assert _files(weak)['model.safetensors'] == _files(starter)['model.safetensors']
    orig = _files(starter)
    monkeypatch.setattr(retrain_module, 'train_qa', _trains_into(tiny))
    r = retrain(starter, 'sample', **kw)
    assert r.after['best_f1'] < r.before['best_f1'] and r.kept == 'original' and _files(starter) == orig
    same = tmp_path/'same'; shutil.copytree(tiny, same); orig = _files(same)
    r = retrain(same, 'sample', **kw)
    assert r.after['best_f1'] == r.before['best_f1'] and r.kept == 'original' and _files(same) == orig   # a tie keeps the original

def test_retrain_a_model_given_by_name_needs_an_output_folder(tmp_path):
    with pytest.raises(ValueError, match="not a folder, so give output_dir"): retrain('minilm-squad', 'sample')
    assert not Path('minilm-squad').exists()
