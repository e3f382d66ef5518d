"The benchmark scripts' own logic, on hand-made folders: what they summarise is what was measured."
import importlib.util, json, sys
from conftest import ROOT

def _bench(name):
    "A script of bench/ loaded as a module (its folder on the path, as when it runs)."
    if str(ROOT/'bench') not in sys.path: sys.path.append(str(ROOT/'bench'))
    spec = importlib.util.spec_from_file_location(f'bench_{name}', ROOT/'bench'/f'{name}.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def _seed_folder(out, rule, seed, before, after, steps=None):
    "A finished (or, with `after` None, unfinished) seed folder as bench/retrain.py leaves it."
    d = out/f'{rule}-seed-{seed}'
    (d/'data'/'seed-valid').mkdir(parents=True)
    (d/'data'/'seed-valid'/'metrics.json').write_text(json.dumps(dict(f1=before, best_f1=before + 1)))
    if after is None: return
    (d/'retrained-valid').mkdir(parents=True); (d/'retrained').mkdir()
    (d/'retrained-valid'/'metrics.json').write_text(json.dumps(dict(f1=after, best_f1=after + 2)))
    if steps: (d/'retrained'/'log_history.json').write_text(json.dumps([dict(step=steps, train_runtime=600.0)]))

def test_retrain_collect_reads_finished_seeds_and_the_later_run_wins(tmp_path):
    bench = _bench('retrain')
    a, b = tmp_path/'a', tmp_path/'b'
    _seed_folder(a, 'paragraph', 42, 50.0, 52.5, steps=500)
    _seed_folder(a, 'paragraph', 2, 50.0, 51.0)        # also in b: b's counts
    _seed_folder(a, 'article', 42, 50.0, 50.5)
    _seed_folder(b, 'paragraph', 2, 50.0, 53.0)
    _seed_folder(b, 'article', 2, 50.0, None)          # stopped before it finished
    got = bench.collect([a, b])
    assert sorted((r['seed'], r['gain'], r['best_gain'], r['blind_cost']) for r in got['paragraph']) == \
        [(2, 3.0, 4.0, 2.0), (42, 2.5, 3.5, 2.0)]
    assert [(r['seed'], r['gain']) for r in got['article']] == [(42, 0.5)]
    assert next(r for r in got['paragraph'] if r['seed'] == 42)['train_minutes'] == 10.0
    assert bench.summary([r['gain'] for r in got['paragraph']]) == dict(mean=2.75, min=2.5, max=3.0, sd=0.35)
