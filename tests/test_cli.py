"The command line: every sub-command on a tiny model, clear errors with a non-zero exit, and torchrun with two processes."
import json, os, subprocess, sys
from pathlib import Path
from types import SimpleNamespace
import pytest
from squad_nb.model import load_qa_config
from conftest import ROOT

ENV = dict(os.environ, TOKENIZERS_PARALLELISM='false', OMP_NUM_THREADS='1')

def cli(*args, check=True, torchrun=None, timeout=600, env=None):
    "Run the squad_nb command (or `torchrun -m squad_nb.cli`) and return (code, stdout, stderr)."
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(torchrun), '--master_port', '29517', '-m', 'squad_nb.cli'] if torchrun \
          else [sys.executable, '-m', 'squad_nb.cli']
    p = subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, env={**ENV, **(env or {})}, cwd=ROOT, timeout=timeout)
    if check and p.returncode: raise AssertionError(f"exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p.returncode, p.stdout, p.stderr

def last_json(out):
    "The JSON printed on the last line."
    return json.loads(out.strip().splitlines()[-1])

def test_help_everywhere():
    for sub in ('', 'train', 'evaluate', 'predict', 'retrain', 'demo'):
        code, out, _ = cli(*([sub] if sub else []), '--help')
        assert code == 0 and 'usage: squad_nb' in out

def test_train_evaluate_predict_retrain(tiny, tmp_path):
    out = tmp_path/'trained'
    _, o, _ = cli('train', '--model', tiny, '--data', 'sample', '--output', out, '--epochs', 1, '--batch-size', 16,
                  '--learning-rate', 1e-3, '--max-train', 48, '--max-eval', 24)
    m = last_json(o)
    assert m == load_qa_config(out)['metrics'] and {'exact', 'f1', 'best_f1', 'HasAns_f1', 'NoAns_f1'} <= set(m)
    _, o, _ = cli('evaluate', out, '--data', 'sample', '--max-rows', 24)
    ev = last_json(o)
    assert {k: ev[k] for k in m if k != 'loss'} == {k: v for k, v in m.items() if k != 'loss'}
    assert sorted(p.name for p in (out/'eval').iterdir()) == ['best_spans.json', 'metrics.json', 'nbest_predictions.json', 'null_odds.json', 'predictions.json', 'report.csv']
    _, o, _ = cli('predict', out, '--question', 'Where is Normandy?', '--context', 'Normandy is a region in France.')
    ans = last_json(o)
    assert len(ans) == 1 and 'Normandy is a region in France.'[ans[0]['start']:ans[0]['end']] == ans[0]['best_span']
    _, o, _ = cli('retrain', out, '--data', 'sample', '--epochs', 1, '--max-train', 48, '--max-eval', 24)
    r = last_json(o)
    assert load_qa_config(out)['metrics']['best_f1'] == max(r['before']['best_f1'], r['after']['best_f1'])

def test_console_script_exits_zero(tiny):
    "The installed `squad_nb` command (which calls `sys.exit(main())`) exits 0 after a successful command, and prints JSON last."
    exe = Path(sys.executable).parent/'squad_nb'
    assert exe.exists(), f"{exe}: the console script is missing (install the package with pip install -e .)"
    p = subprocess.run([str(exe), 'predict', str(tiny), '--question', 'Where?', '--context', 'In France.'], capture_output=True, text=True, env=ENV, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert last_json(p.stdout)[0]['question'] == 'Where?'

def test_demo_end_to_end(tiny, tmp_path):
    "The demo's whole story on a tiny model: train, save, reload with the same numbers, retrain, print the table and the JSON."
    out = tmp_path/'demo'
    _, o, _ = cli('demo', '--model', tiny, '--output', out, '--epochs', 1, '--retrain-epochs', 1, '--max-train', 48, '--max-eval', 24)
    r = last_json(o)
    assert 'reloaded model gives the same numbers: True' in o and '3/4 retraining it with the default recipe (small-squad-cpu) for 1 epoch(s)' in o
    assert '"no answer" F1' in o and 'HasAns F1 forced' in o and 'Three answers on validation questions, of the kept model' in o
    assert 'minilm-squad scores F1' in o and r['yardstick']['HasAns_f1_forced'] > r['reloaded']['HasAns_f1_forced']
    assert {k: v for k, v in r['reloaded'].items() if k in r['trained'] and k != 'loss'} == {k: v for k, v in r['trained'].items() if k != 'loss'}
    assert (out/'config.json').exists() and (out/'eval'/'metrics.json').exists()
    assert load_qa_config(out)['metrics']['best_f1'] == max(r['trained']['best_f1'], r['retrained']['best_f1'])

@pytest.mark.parametrize('args,msg', [
    (('evaluate', 'no/such/model', '--data', 'sample'), 'not found'),
    (('predict', 'no/such/model', '--question', 'q', '--context', 'c'), 'not found'),
    (('retrain', 'no/such/model', '--data', 'sample'), 'not found'),
    (('retrain', 'no/such/model', '--data', 'sample', '--recipe', 'fast'), "invalid choice: 'fast'"),
    (('train', '--data', 'no/such/squad.json', '--max-train', 4), 'not found'),
])
def test_missing_things_exit_nonzero(args, msg):
    code, out, err = cli(*args, check=False)
    assert code in (1, 2) and msg in err and 'Traceback' not in err

def test_folder_without_tokenizer(tiny, tmp_path):
    bare = tmp_path/'bare'; bare.mkdir()
    for f in ('config.json', 'model.safetensors'): (bare/f).write_bytes((tiny/f).read_bytes())
    code, _, err = cli('evaluate', bare, '--data', 'sample', '--max-rows', 4, check=False)
    assert code == 1 and 'no tokenizer files' in err

def test_weights_without_config_and_corrupted_weights(tiny, tmp_path):
    d = tmp_path/'noconf'; d.mkdir(); (d/'model.safetensors').write_bytes((tiny/'model.safetensors').read_bytes())
    code, _, err = cli('evaluate', d, '--data', 'sample', check=False)
    assert code == 1 and 'no config.json' in err
    bad = tmp_path/'corrupt'; bad.mkdir()
    for p in tiny.iterdir(): (bad/p.name).write_bytes(p.read_bytes())
    (bad/'model.safetensors').write_bytes((tiny/'model.safetensors').read_bytes()[:100])
    (bad/'eval').mkdir(); (bad/'eval'/'metrics.json').write_text('{"f1": 1}')
    code, _, err = cli('evaluate', bad, '--data', 'sample', '--max-rows', 4, check=False)
    assert code == 1 and 'model.safetensors' in err and 'could not be loaded' in err
    assert (bad/'eval'/'metrics.json').read_text() == '{"f1": 1}', 'earlier outputs stay untouched'

def test_empty_data(tiny, tmp_path):
    f = tmp_path/'empty.json'; f.write_text(json.dumps({'version': 'v2.0', 'data': []}))
    code, _, err = cli('evaluate', tiny, '--data', f, check=False)
    assert code == 1 and '0 questions' in err

def test_output_folder_holding_another_model(tiny):
    code, _, err = cli('train', '--model', tiny, '--output', tiny, '--max-train', 4, '--max-eval', 4, check=False)
    assert code == 1 and 'already holds a model' in err

def test_torchrun_two_processes_evaluate_equals_single(tiny, tmp_path):
    "Under torchrun (gloo on CPU) every window is evaluated once and the metrics equal one process's."
    _, one, _ = cli('evaluate', tiny, '--data', 'sample', '--max-rows', 60, '--output', tmp_path/'one')
    _, two, _ = cli('evaluate', tiny, '--data', 'sample', '--max-rows', 60, '--output', tmp_path/'two', torchrun=2)
    assert last_json(two) == last_json(one)
    assert (tmp_path/'one'/'predictions.json').read_text() == (tmp_path/'two'/'predictions.json').read_text()

def test_torchrun_two_processes_train_like_one(tokenizer, tmp_path):
    """Two processes (gloo on CPU) train on the same batches as one process with accumulated gradients: same metrics, same
    answers. Not to the last bit: the gradients are summed in another order, and Adam's first steps turn tiny differences
    of near-zero gradients into steps of the full learning rate (weights then differ by up to about 1e-3 here)."""
    from squad_nb.model import save_qa_model, tiny_qa_model
    calm = save_qa_model(tiny_qa_model(tokenizer.vocab_size, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
                         tokenizer, tmp_path/'calm', {})  # no dropout: random masks would differ between the two set-ups
    args = ('--model', calm, '--data', 'sample', '--epochs', 1, '--batch-size', 16, '--learning-rate', 1e-3, '--max-train', 64,
            '--max-eval', 24, '--bf16', 'false')
    _, one, _ = cli('train', *args, '--output', tmp_path/'one')
    _, two, _ = cli('train', *args, '--output', tmp_path/'two', torchrun=2)
    m1, m2 = last_json(one), last_json(two)
    assert m2 == load_qa_config(tmp_path/'two')['metrics']
    assert m1.keys() == m2.keys() and all(m1[k] == pytest.approx(m2[k], rel=1e-3, abs=1e-3) for k in m1), (m1, m2)
    assert {k: m1[k] for k in ('exact', 'f1', 'best_f1', 'HasAns_f1', 'NoAns_f1')} == {k: m2[k] for k in ('exact', 'f1', 'best_f1', 'HasAns_f1', 'NoAns_f1')}
    for d in ('one', 'two'): cli('evaluate', tmp_path/d, '--data', 'sample', '--max-rows', 24)
    assert (tmp_path/'one'/'eval'/'predictions.json').read_text() == (tmp_path/'two'/'eval'/'predictions.json').read_text()

def test_retrain_a_folder_saved_by_the_trainer(tiny_model, tokenizer, tmp_path):
    "A folder saved by `Trainer.save_model` (weights, config, tokenizer, no squad_nb.json) evaluates and retrains with another recipe."
    import shutil
    from transformers import Trainer, TrainingArguments
    Trainer(model=tiny_model, args=TrainingArguments(str(tmp_path/'ck'), report_to='none', use_cpu=True), processing_class=tokenizer).save_model(str(tmp_path/'seed'))
    assert not (tmp_path/'seed'/'squad_nb.json').exists()
    _, o, _ = cli('evaluate', tmp_path/'seed', '--data', 'sample', '--max-rows', 16)
    assert last_json(o)['null_threshold'] == 0.0
    _, o, _ = cli('retrain', tmp_path/'seed', '--data', 'sample', '--output', tmp_path/'out', '--recipe', 'full-squad-gpu',
                  '--epochs', 1, '--learning-rate', 1e-12, '--max-train', 32, '--max-eval', 16)
    r = last_json(o)
    assert r['before']['best_f1'] == last_json(cli('evaluate', tmp_path/'seed', '--data', 'sample', '--max-rows', 16)[1])['best_f1']
    assert r['after']['best_f1'] == r['before']['best_f1'] and r['kept'] == 'original'   # a learning rate of ~0: a tie
    assert load_qa_config(tmp_path/'out') == {}
    assert (tmp_path/'out'/'model.safetensors').read_bytes() == (tmp_path/'seed'/'model.safetensors').read_bytes()

@pytest.mark.parametrize('case', ['not-a-model', 'no-validation-split', 'unknown-recipe'])
def test_retrain_bad_input_names_it_and_keeps_the_model(tiny, tmp_path, case):
    import shutil
    model = tmp_path/'m'; shutil.copytree(tiny, model)
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    one_file = ROOT/'squad_nb'/'sample'/'valid.json'
    args, says = {'not-a-model': ((tmp_path, '--data', 'sample'), f'{tmp_path}: no config.json'),
                  'no-validation-split': ((model, '--data', one_file), "needs 'train' and 'validation' splits"),
                  'unknown-recipe': ((model, '--data', 'sample', '--recipe', 'fast'), "argument --recipe: invalid choice: 'fast'")}[case]
    code, _, err = cli('retrain', *args, check=False)
    assert code != 0 and says in err and 'Traceback' not in err
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before

def test_no_fit_schedule_reaches_train_qa_and_retrain(monkeypatch):
    "`--no-fit-schedule` is passed on as fit_schedule=False (and its absence as True) by `train` and `retrain`."
    import squad_nb.train as T, squad_nb.retrain as R
    from squad_nb.cli import _parser, cmd_train, cmd_retrain
    seen = []
    res = SimpleNamespace(output_dir='o', threshold=0.0, metrics={}, before={'best_f1': 0.0}, after={'best_f1': 0.0}, kept='original')
    monkeypatch.setattr(T, 'train_qa', lambda *a, **kw: seen.append(kw['fit_schedule']) or res)
    monkeypatch.setattr(R, 'retrain', lambda *a, **kw: seen.append(kw['fit_schedule']) or res)
    cmd_train(_parser().parse_args(['train', '--max-minutes', '5', '--no-fit-schedule']))
    cmd_train(_parser().parse_args(['train', '--max-minutes', '5']))
    cmd_retrain(_parser().parse_args(['retrain', 'm', '--data', 'd', '--max-minutes', '5', '--no-fit-schedule']))
    assert seen == [False, True, False]


def test_the_starter_model_by_name(tmp_path):
    "`minilm-squad` evaluates and answers offline by its name; the default evaluation folder is not mistaken for the model."
    _, o, _ = cli('evaluate', 'minilm-squad', '--data', 'sample', '--max-rows', 40, '--output', tmp_path/'ev')
    m = last_json(o)
    assert m['HasAns_f1_forced'] > 30 and (tmp_path/'ev'/'predictions.json').exists()
    _, o, _ = cli('predict', 'minilm-squad', '--question', 'What did the Normans give their name to?',
                  '--context', 'The Normans gave their name to Normandy, a region in France.')
    assert 'Normandy' in last_json(o)[0]['best_span']

def test_unknown_model_name_lists_the_offline_names():
    code, _, err = cli('evaluate', 'minilm-sqaud', '--data', 'sample', check=False, env=dict(HF_HUB_OFFLINE='1'))
    assert code == 1 and "'minilm-local'" in err and "'minilm-squad'" in err and 'Traceback' not in err

@pytest.mark.parametrize('damage,says', [('missing', 'adapter_model.safetensors: missing'),
                                         ('corrupt', 'adapter_model.safetensors: corrupt or unreadable'),
                                         ('bad-config', 'adapter_config.json: not readable JSON')])
def test_a_damaged_starter_folder_exits_naming_the_file(tmp_path, damage, says):
    import shutil
    from squad_nb.model import starter_dir
    d = tmp_path/'starter'; shutil.copytree(starter_dir(), d)
    if damage == 'missing': (d/'adapter_model.safetensors').unlink()
    elif damage == 'corrupt': (d/'adapter_model.safetensors').write_bytes(b'\x00' * 64)
    else: (d/'adapter_config.json').write_text('{"r": 16,')
    code, _, err = cli('evaluate', d, '--data', 'sample', '--max-rows', 4, check=False)
    assert code == 1 and says in err and 'Traceback' not in err, err[-2000:]

def test_retrain_the_starter_model_by_name_into_a_folder(tmp_path):
    "`squad_nb retrain minilm-squad --output X`: a name is not a folder to write into, so the kept model goes to X."
    code, _, err = cli('retrain', 'minilm-squad', '--data', 'sample', '--max-train', 8, check=False)
    assert code == 1 and 'give output_dir' in err
    _, o, _ = cli('retrain', 'minilm-squad', '--data', 'sample', '--output', tmp_path/'mine', '--epochs', 1,
                  '--learning-rate', 1e-12, '--max-train', 16, '--max-eval', 16)
    r = last_json(o)
    assert r['kept'] == 'original' and r['after']['best_f1'] == r['before']['best_f1']   # a learning rate of ~0: a tie
    assert load_qa_config(tmp_path/'mine')['base_version'] and (tmp_path/'mine'/'model.safetensors').exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith('.')], 'no staging folder is left behind'
